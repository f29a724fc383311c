"""The treatment's plan bytes, built from memoised item bytes, against the plan serialized whole:
every plan of a roster, asked in a shuffled order with the caches cleared, byte for byte
(docs/performance.md, eleventh pass)."""

from __future__ import annotations

import io
import random
from typing import Any

from footcds.v1 import common_pb2, treatment_pb2

from services.cli.roster import parse_roster, synthesize, write_roster
from services.knowledge.loader import knowledge_base
from services.pipeline.screening import LocalBatchCalls, chunked, prepare, screen_chunk
from services.treatment import domain, handlers
from services.wire import convert


def roster_entries(n: int) -> list[Any]:
    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), n, 13), text)
    return parse_roster(text.getvalue()).entries


class Captured(LocalBatchCalls):
    """The in-process stages, keeping each chunk's treatment batch request."""

    def __init__(self) -> None:
        self.plans: list[bytes] = []

    def tests_and_plans(self, tests: bytes, plans: bytes) -> Any:
        self.plans.append(plans)
        return super().tests_and_plans(tests, plans)


def test_every_plan_of_a_roster_is_the_whole_plan_serialized() -> None:
    kb = knowledge_base()
    calls = Captured()
    for part in chunked(prepare(roster_entries(300)).accepted, 100):
        screen_chunk(part, calls)
    inputs = []
    for raw in calls.plans:
        for item in treatment_pb2.PlanTreatmentBatchRequest.FromString(raw).items:
            patient = convert.patient_from_pb(item.patient)
            ids, probabilities = convert.differential_columns(item.differential)
            triage = convert.triage_from_pb(item.differential.triage)
            inputs.append(domain.ranked_inputs(kb, patient, ids, probabilities, triage))
    assert len(set(inputs)) >= 50
    random.Random(3).shuffle(inputs)
    handlers.encoded_plan.cache_clear()
    handlers._item_bytes.cache_clear()
    shared = 0
    for one in inputs:
        whole = convert.plan_to_pb(domain.plan_from_inputs(kb, one)).SerializeToString()
        hits = handlers._item_bytes.cache_info().hits
        assert handlers.encoded_plan(one) == whole
        shared += handlers._item_bytes.cache_info().hits > hits
        assert common_pb2.TreatmentPlan.FromString(whole).items  # a plan has items to memoise
    assert shared > 0  # items were reused across plans, and the bytes still matched

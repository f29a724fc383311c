"""A chunk screens each distinct athlete input once and answers every athlete who gave it.

Athletes with byte-identical stage inputs (patient, evidence, answers) get byte-identical
answers from every stage, so ``screen_chunk`` sends one batch item per distinct input
(docs/performance.md, eighth pass).  These tests hold what a user would notice if that went
wrong: every athlete still gets its own line (reference, row, position), the line is the one
screening that athlete alone gives, and a repeated bad row names its own columns.
"""

from __future__ import annotations

import io
import random
from typing import Any

from footcds.v1 import common_pb2, encounter_pb2, treatment_pb2, workup_pb2

from services.cli.roster import parse_roster, synthesize, write_roster
from services.knowledge.loader import knowledge_base
from services.pipeline.screening import LocalBatchCalls, prepare, screen_chunk


class CountingCalls(LocalBatchCalls):
    """The in-process handlers, counting the items each stage is sent."""

    def __init__(self) -> None:
        self.items: dict[str, int] = {"intake": 0, "ranking": 0, "workup": 0, "treatment": 0}

    def normalize(self, request: Any) -> Any:
        self.items["intake"] += len(request.items)
        return super().normalize(request)

    def rank(self, request: Any) -> Any:
        self.items["ranking"] += len(request.items)
        return super().rank(request)

    def tests_and_plans(self, tests: bytes, plans: bytes) -> Any:
        self.items["workup"] += len(workup_pb2.RecommendTestsBatchRequest.FromString(tests).items)
        self.items["treatment"] += len(treatment_pb2.PlanTreatmentBatchRequest.FromString(plans).items)
        return super().tests_and_plans(tests, plans)


def synthetic(n: int, seed: int) -> list[encounter_pb2.RosterEntry]:
    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), n, seed), text)
    return parse_roster(text.getvalue()).entries


def copy_of(entry: encounter_pb2.RosterEntry, ref: str) -> encounter_pb2.RosterEntry:
    twin = encounter_pb2.RosterEntry()
    twin.CopyFrom(entry)
    twin.athlete_ref = ref
    twin.row_number = 0  # prepare() numbers it by its place in the roster
    return twin


def alone(entry: encounter_pb2.RosterEntry, position: int) -> bytes:
    """The athlete screened in a chunk of its own, at its roster position."""
    (_, result), = screen_chunk([(position, entry)], LocalBatchCalls())
    return result.SerializeToString(deterministic=True)


def test_repeated_inputs_are_screened_once_and_every_athlete_gets_its_own_line() -> None:
    base = synthetic(12, seed=5)
    bad = encounter_pb2.RosterEntry(
        athlete_ref="B", patient=common_pb2.PatientContext(age_years=30),
        evidence=[common_pb2.Evidence(finding_id="not_a_finding", state=common_pb2.EVIDENCE_STATE_PRESENT)],
    )
    rng = random.Random(3)
    picks = [rng.randrange(4) for _ in range(30)]  # four distinct inputs, thirty athletes
    roster = [copy_of(base[k], f"T{i:02d}") for i, k in enumerate(picks)]
    roster += [copy_of(bad, "BAD1"), *(copy_of(e, f"U{i}") for i, e in enumerate(base[4:8])), copy_of(bad, "BAD2")]
    accepted = prepare(roster).accepted
    calls = CountingCalls()
    results = screen_chunk(accepted, calls)

    assert [p for p, _ in results] == list(range(len(roster)))  # every athlete once, in order
    distinct = len(set(picks)) + 1 + 4  # the four picked, the bad row, four more
    assert calls.items["intake"] == distinct
    assert calls.items["ranking"] == calls.items["workup"] == calls.items["treatment"] == distinct - 1
    by_position = dict(accepted)
    for position, result in results:
        entry = by_position[position]
        assert result.athlete_ref == entry.athlete_ref and result.row_number == position + 1
        assert result.SerializeToString(deterministic=True) == alone(entry, position), entry.athlete_ref
    rejected = {r.athlete_ref: r for _, r in results if r.status == encounter_pb2.ATHLETE_STATUS_REJECTED}
    assert set(rejected) == {"BAD1", "BAD2"}
    assert rejected["BAD1"].violations[0].field == "athletes[30].evidence[0].finding_id"
    assert rejected["BAD2"].violations[0].field == f"athletes[{len(roster) - 1}].evidence[0].finding_id"


def test_athletes_differing_only_in_context_are_not_merged() -> None:
    """Age, sport and competition days enter the plan's words: a different one is another input."""
    (entry,) = synthetic(1, seed=9)
    older, sport, days = (copy_of(entry, ref) for ref in ("OLDER", "SPORT", "DAYS"))
    older.patient.age_years = entry.patient.age_years + 1
    sport.patient.activity = entry.patient.activity + " and swimming"
    days.patient.days_to_competition = 4
    roster = [copy_of(entry, "SAME1"), older, sport, days, copy_of(entry, "SAME2")]
    calls = CountingCalls()
    results = screen_chunk(prepare(roster).accepted, calls)
    assert calls.items["intake"] == 4
    assert [r.athlete_ref for _, r in results] == ["SAME1", "OLDER", "SPORT", "DAYS", "SAME2"]
    for position, result in results:
        assert result.SerializeToString(deterministic=True) == alone(prepare(roster).accepted[position][1], position)

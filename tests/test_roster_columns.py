"""Work-up and treatment read a differential's columns (ids, probabilities, triage), not condition objects.

``treatment.handlers._plan_bytes`` reads only the condition ids and probabilities from the
message, and ``selection.emergencies_among`` / ``treatment.domain.select_conditions`` choose on
those columns.  These tests hold the column path to the object path it replaced: the plan of
every roster athlete and vignette equals the plan built from the full differential, and the
emergencies chosen equal those of sorting the condition objects (ties, red-flag suspects,
emergency triage without a qualifying condition), on random differentials.
"""

from __future__ import annotations

import dataclasses
import random

from footcds.v1 import common_pb2, differential_pb2, treatment_pb2

from services.differential.handlers import rank_differential_batch
from services.knowledge import clinical
from services.knowledge.clinical import CitationRef, Differential, RedFlagHit, ScoredCondition, Triage
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.pipeline import stages
from services.platform.errors import InvalidInput
from services.treatment import domain, handlers
from services.wire import convert, encoding
from services.workup.handlers import ranked_from_pb
from services.workup.ranked import ranked_of
from services.workup.selection import emergencies_among, open_emergencies
from tests.test_batch_rows import normalized
from tests.test_fast_paths import lean_differential_from_pb


def _objects_open_emergencies(kb: KnowledgeBase, d: Differential, threshold: float) -> tuple[str, ...]:
    """The selection as it was written on condition objects (the reference)."""
    policy = kb.triage_policy
    flagged = [cid for flag in d.triage.red_flags for cid in flag.suspect]
    out: list[str] = []
    for c in sorted(d.conditions, key=lambda c: -c.probability):
        if c.condition_id not in kb.conditions or not kb.conditions[c.condition_id].emergency:
            continue
        if c.probability >= threshold or (c.condition_id in flagged and c.probability >= policy.unlikely_floor):
            out.append(c.condition_id)
    if not out and d.triage.level == "emergency":
        probs = d.probabilities()
        suspects = [c for c in flagged if c in kb.conditions and kb.conditions[c].emergency]
        if suspects:
            out.append(max(suspects, key=lambda c: probs.get(c, 0.0)))
    return tuple(out)


def test_every_roster_plan_equals_the_plan_of_the_full_differential() -> None:
    kb = knowledge_base()
    group = normalized()
    batch = differential_pb2.RankDifferentialBatchRequest(omit_explanations=True)
    for n in group:
        batch.items.add(**stages.differential_fields(n))
    ranked = rank_differential_batch(batch)
    emergencies = 0
    for n, r in zip(group, ranked.results, strict=True):
        request = stages.treatment_request(n, r.differential)
        differential = convert.differential_from_pb(r.differential)
        reference = domain.plan_treatment(kb, convert.patient_from_pb(n.patient), differential)
        assert handlers._plan_bytes(request) == convert.plan_to_pb(reference).SerializeToString()
        emergencies += differential.triage.level == "emergency"
    assert emergencies > 0  # the emergency branches are reached


def test_emergencies_from_columns_equal_sorting_the_conditions() -> None:
    kb = knowledge_base()
    rng = random.Random(7)
    ids = sorted(kb.conditions)
    urgent = [c for c in ids if kb.conditions[c].emergency]
    policy = kb.triage_policy
    grid = [0.0, policy.unlikely_floor, policy.emergency_condition_threshold, policy.dont_miss_threshold, 0.3]
    chosen_any = 0
    for _ in range(400):
        picked = rng.sample(ids, rng.randint(1, len(ids)))
        # Ties on purpose: probabilities drawn from a few values, some exactly at the thresholds.
        probs = [rng.choice(grid) if rng.random() < 0.6 else rng.random() for _ in picked]
        conditions = tuple(
            ScoredCondition(condition_id=c, label=c, probability=p) for c, p in zip(picked, probs, strict=True)
        )
        flags = tuple(
            RedFlagHit(rule_id=f"r{k}", description="", finding_ids=(), level="emergency",
                       suspect=tuple(rng.sample(urgent, rng.randint(1, 3)) + ["not_a_condition"]))
            for k in range(rng.randint(0, 2))
        )
        triage = Triage(level=rng.choice(["emergency", "urgent", "routine"]), reasons=(), red_flags=flags)
        d = Differential(conditions=conditions, dont_miss=(), triage=triage)
        for threshold in (policy.emergency_condition_threshold, policy.dont_miss_threshold):
            expected = _objects_open_emergencies(kb, d, threshold)
            assert open_emergencies(kb, d, threshold) == expected
            assert emergencies_among(kb, list(picked), probs, triage, threshold) == expected
            chosen_any += bool(expected)
    assert chosen_any > 100


def test_unknown_and_missing_conditions_are_named() -> None:
    request = treatment_pb2.PlanTreatmentRequest()
    request.differential.conditions.add(condition_id="no_such_condition", probability=1.0)
    try:
        handlers._plan_bytes(request, "items[3].")
    except InvalidInput as exc:
        fields = [v.field for v in exc.violations]
        assert "items[3].differential.conditions[0].condition_id" in fields
    else:
        raise AssertionError("an unknown condition was planned for")
    try:
        handlers._plan_bytes(treatment_pb2.PlanTreatmentRequest())
    except InvalidInput as exc:
        assert "differential.conditions" in [v.field for v in exc.violations]
    else:
        raise AssertionError("an empty differential was planned for")


def test_the_work_up_reads_from_the_message_what_it_reads_from_the_full_differential() -> None:
    """``ranked_from_pb`` (columns, the leader and the don't-miss list only) equals the columns
    of the lean differential it replaced, on every roster athlete and vignette, and with the
    leading probability tied (the first of the tied conditions leads, as ``max`` picks)."""
    group = normalized()
    batch = differential_pb2.RankDifferentialBatchRequest(omit_explanations=True)
    for n in group:
        batch.items.add(**stages.differential_fields(n))
    messages = [r.differential for r in rank_differential_batch(batch).results]
    tied = type(messages[0])()
    tied.CopyFrom(messages[0])
    top = max(c.probability for c in tied.conditions)
    tied.conditions[0].probability = 0.0
    tied.conditions[2].probability = tied.conditions[1].probability = top
    dont_miss = 0
    for message in [*messages, tied]:
        reference = ranked_of(lean_differential_from_pb(message))
        assert ranked_from_pb(message) == reference
        dont_miss += bool(reference.dont_miss)
    assert ranked_from_pb(tied).leader == convert.lean_scored_from_pb(tied.conditions[1])
    tied_differential = lean_differential_from_pb(tied)  # the domain path's leader: ``max``'s pick too
    assert ranked_of(tied_differential).leader is tied_differential.conditions[1]
    assert dont_miss > 0


def _filled(t: clinical.TestRecommendation) -> bytes:
    target = common_pb2.TestRecommendation()
    encoding.fill_test(target, t)
    return target.SerializeToString(deterministic=True)


def test_a_test_filled_in_place_is_the_converted_test() -> None:
    """``fill_test`` (the work-up batch's responses) writes what ``convert.test_to_pb`` writes,
    for every catalogue test and with every field set (a field added to ``TestRecommendation``
    and converted in ``test_to_pb`` but not filled in place fails here)."""
    kb = knowledge_base()
    samples: dict[str, object] = {
        "str": "x", "float": 0.25, "int": 3, "bool": True, "tuple[str, ...]": ("a", "b"),
        "tuple[CitationRef, ...]": (CitationRef("k", "A title", True),),
    }
    fields = dataclasses.fields(clinical.TestRecommendation)
    full = clinical.TestRecommendation(**{f.name: samples[str(f.type)] for f in fields})  # type: ignore[arg-type]
    checked = [full, dataclasses.replace(full, tier="immediate"), dataclasses.replace(full, value_score=-0.0)]
    for test in kb.tests.values():
        checked.append(clinical.TestRecommendation(
            test_id=test.id, label=test.label, tier="first_line", rationale="why", condition_ids=("c",),
            cpt=tuple(test.cpt), loinc=tuple(test.loinc), cost_tier=test.cost_tier,
            citations=tuple(CitationRef(k, kb.sources[k].title) for k in test.citations),
        ))
    for t in checked:
        assert _filled(t) == convert.test_to_pb(t).SerializeToString(deterministic=True), t.test_id

"""The screening batch's differentials encoded from probability rows (``rank_batch_rows`` +
``encoding.ranked_row_bytes``) are the differentials ``rank_batch`` builds, to the byte.

The row path skips a ``ScoredCondition`` per condition per athlete; these tests hold it to
the dataclass path (the reference) on a synthetic roster and the clinical vignettes, and
the batch RPC to ranking each athlete alone.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from footcds.v1 import common_pb2, differential_pb2, intake_pb2

from services.cli.roster import parse_roster, synthesize, write_roster
from services.differential import batch_rows, ranking
from services.differential.handlers import case_from_pb, rank_differential_batch
from services.intake.handlers import normalize_intake
from services.knowledge.clinical import Case, Differential, ScoredCondition
from services.knowledge.loader import knowledge_base
from services.wire import convert, encoding
from tests.clinical.evaluate import load_vignettes, request_for


@cache
def normalized() -> tuple[intake_pb2.NormalizeIntakeResponse, ...]:
    """300 roster athletes and every vignette, through the intake."""
    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), 300, seed=11), text)
    group: list[Any] = [*parse_roster(text.getvalue()).entries, *(request_for(v) for v in load_vignettes())]
    return tuple(
        normalize_intake(
            intake_pb2.NormalizeIntakeRequest(patient=r.patient, evidence=r.evidence, answers=r.answers)
        )
        for r in group
    )


def _row_bytes(row: batch_rows.RankedRow) -> bytes:
    return encoding.ranked_row_bytes(row.order, row.values, row.dont_miss, row.triage, row.statics, row.floor)


def cases() -> list[Case]:
    kb = knowledge_base()
    return [case_from_pb(kb, n.patient, list(n.evidence)) for n in normalized()]


def test_rows_encode_to_the_differentials_of_rank_batch() -> None:
    all_cases = cases()
    rows = batch_rows.rank_batch_rows(all_cases)
    reference = ranking.rank_batch(all_cases, explain=False)
    assert len(rows) == len(reference) == len(all_cases)
    for row, differential in zip(rows, reference, strict=True):
        assert _row_bytes(row) == encoding.differential_bytes(differential)
    # The cases reach every branch: red flags, emergencies, don't-miss lists, unlikely marks.
    assert any(d.triage.red_flags for d in reference)
    assert any(d.triage.level == "emergency" for d in reference)
    assert any(d.dont_miss for d in reference) and any(not d.dont_miss for d in reference)
    assert any(c.unlikely for d in reference for c in d.conditions)


def test_a_zero_probability_is_encoded_as_the_serializer_does() -> None:
    """+0.0 is not written by protobuf, -0.0 is; both against the dataclass path."""
    row = batch_rows.rank_batch_rows(cases()[:1])[0]
    for zero in (0.0, -0.0):
        values = list(row.values)
        values[row.order[-1]] = zero
        values[row.dont_miss[0] if row.dont_miss else row.order[0]] = zero
        changed = batch_rows.RankedRow(row.order, values, row.dont_miss, row.triage, row.statics, row.floor)
        scored = {ci: _scored(row, ci, values[ci]) for ci in row.order}
        differential = Differential(
            conditions=tuple(scored[ci] for ci in row.order),
            dont_miss=tuple(scored[ci] for ci in row.dont_miss),
            triage=row.triage,
        )
        fast = _row_bytes(changed)
        assert fast == encoding.differential_bytes(differential)
        parsed = common_pb2.Differential.FromString(fast)
        assert parsed == encoding.differential_to_pb(differential)


def _scored(row: batch_rows.RankedRow, ci: int, probability: float) -> ScoredCondition:
    cid, label, icd10cm, snomed, emergency, dont_miss, specialist = row.statics[ci]
    return ScoredCondition(
        condition_id=cid, label=label, probability=probability, icd10cm=icd10cm, snomed=snomed,
        emergency=emergency, dont_miss=dont_miss, unlikely=probability < row.floor, specialist=specialist,
    )


def test_the_batch_rpc_answers_as_the_dataclass_path() -> None:
    """The batch RPC, unexplained (the screening's, row path) and explained, against
    ``rank_batch`` on the same cases encoded through ``ScoredCondition``s."""
    group = normalized()[:150]
    kb = knowledge_base()
    group_cases = [case_from_pb(kb, n.patient, list(n.evidence)) for n in group]
    for omit in (True, False):
        response = rank_differential_batch(
            differential_pb2.RankDifferentialBatchRequest(
                items=[differential_pb2.RankDifferentialRequest(patient=n.patient, evidence=n.evidence) for n in group],
                omit_explanations=omit,
            )
        )
        expected = ranking.rank_batch(group_cases, explain=not omit)
        assert [r.differential.SerializeToString(deterministic=True) for r in response.results] == [
            encoding.differential_to_pb(d).SerializeToString(deterministic=True) for d in expected
        ]


def test_lean_conditions_are_the_dataclass_built_ones() -> None:
    """``convert.lean_scored_from_pb`` (set slot by slot) against the dataclass's ``__init__``."""
    seen = 0
    for row in batch_rows.rank_batch_rows(cases()[:60]):
        message = common_pb2.Differential.FromString(_row_bytes(row))
        for m in [*message.conditions, *message.dont_miss]:
            c = convert.lean_scored_from_pb(m)
            built = ScoredCondition(
                condition_id=m.condition_id,
                label=m.label,
                probability=m.probability,
                emergency=m.emergency,
                dont_miss=m.dont_miss,
                unlikely=m.unlikely,
                specialist=m.specialist,
            )
            assert c == built and hash(c) == hash(built) and repr(c) == repr(built)
            seen += 1
    assert seen > 60 * 30


def test_intake_and_workup_batches_answer_each_item_as_the_single_rpc() -> None:
    """The batch handlers fill their results in place; each result is the single RPC's
    response to that item, and a bad item gets its error without disturbing the others."""
    from footcds.v1 import workup_pb2

    from services.intake.handlers import normalize_intake_batch
    from services.workup.handlers import recommend_tests, recommend_tests_batch

    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), 60, seed=3), text)
    sources: list[Any] = [*parse_roster(text.getvalue()).entries, *(request_for(v) for v in load_vignettes()[:40])]
    requests = [
        intake_pb2.NormalizeIntakeRequest(patient=r.patient, evidence=r.evidence, answers=r.answers) for r in sources
    ]
    bad = intake_pb2.NormalizeIntakeRequest(patient=requests[0].patient)
    bad.evidence.add(finding_id="no_such_finding", state=common_pb2.EVIDENCE_STATE_PRESENT)
    items = [*requests[:5], bad, *requests[5:]]
    batch = normalize_intake_batch(intake_pb2.NormalizeIntakeBatchRequest(items=items))
    assert batch.results[5].WhichOneof("outcome") == "error"
    assert batch.results[5].error.violations[0].field.startswith("items[5].evidence[0]")
    singles = [normalize_intake(r) for r in requests]
    answered = [r for r in batch.results if r.WhichOneof("outcome") == "response"]
    assert [r.index for r in batch.results] == list(range(len(items)))
    assert [r.response for r in answered] == singles
    assert [r.response.SerializeToString() for r in answered] == [s.SerializeToString() for s in singles]
    assert any(s.red_flags for s in singles)

    ranked = rank_differential_batch(
        differential_pb2.RankDifferentialBatchRequest(
            items=[differential_pb2.RankDifferentialRequest(patient=s.patient, evidence=s.evidence) for s in singles],
            omit_explanations=True,
        )
    )
    work = [
        workup_pb2.RecommendTestsRequest(patient=s.patient, evidence=s.evidence, differential=r.differential)
        for s, r in zip(singles, ranked.results, strict=True)
    ]
    empty = workup_pb2.RecommendTestsRequest(patient=singles[0].patient)  # no differential: an error
    tested = recommend_tests_batch(workup_pb2.RecommendTestsBatchRequest(items=[empty, *work]))
    assert tested.results[0].WhichOneof("outcome") == "error"
    assert [r.response for r in tested.results[1:]] == [recommend_tests(w) for w in work]
    assert tested.kb_version == singles[0].kb_version and tested.results[1].response.disclaimer

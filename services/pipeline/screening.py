"""Team screening as plain functions: roster rows in, per-athlete results and a team summary out.

The distributed path (a Celery chunk task calling the services' batch RPCs) and ``--local``
(the same batch handlers in-process) both run ``screen_chunk`` with a different ``BatchCalls``,
so the two cannot drift apart (``pipeline.team`` has the progress tally and the team view).
A bad row never sinks the roster: it becomes a REJECTED result
that names its row and fields, and every input row comes out exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from footcds.v1 import (
    common_pb2,
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.pipeline import stages
from services.pipeline.team import Tally
from services.platform import contract
from services.platform.errors import LimitExceeded

ATHLETE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TOP_CONDITIONS = 3
PLAN_HIGHLIGHTS = 3
Indexed = tuple[int, encounter_pb2.RosterEntry]  # (position in the roster, the entry)
Result = tuple[int, encounter_pb2.AthleteResult]  # (position in the roster, its result)


# --- the roster before any work -----------------------------------------------------------


def check_size(count: int, limit: int) -> None:
    """Refuse an oversize roster before anything is written or queued; the limit is named."""
    if count > limit:
        raise LimitExceeded(
            f"the roster has {count} athletes; the limit is {limit} per screening "
            f"(FOOTCDS_SCREENING_MAX_ATHLETES): split the roster"
        )


@dataclass(frozen=True)
class Prepared:
    """The roster split into rows worth screening and rows rejected on sight."""

    accepted: list[Indexed] = field(default_factory=list)
    rejected: list[Result] = field(default_factory=list)


def rejected(
    entry: encounter_pb2.RosterEntry, violations: Iterable[tuple[str, str]]
) -> encounter_pb2.AthleteResult:
    return encounter_pb2.AthleteResult(
        athlete_ref=entry.athlete_ref,
        row_number=entry.row_number,
        status=encounter_pb2.ATHLETE_STATUS_REJECTED,
        violations=[common_pb2.FieldViolation(field=f, description=d) for f, d in violations],
    )


def prepare(entries: Sequence[encounter_pb2.RosterEntry]) -> Prepared:
    """Number the rows and reject those whose athlete reference is missing, unsafe or repeated.

    A reference must be opaque (letters, digits, ``._:-``, no spaces): it is echoed back in
    reports, so a name typed into the id column must not travel further.  Clinical meaning
    (finding ids, ages, contradictions) is checked by the intake service, per row.
    """
    out = Prepared()
    first_row: dict[str, int] = {}
    for position, source in enumerate(entries):
        entry = encounter_pb2.RosterEntry()
        entry.CopyFrom(source)
        if entry.row_number <= 0:
            entry.row_number = position + 1
        where = f"athletes[{position}].athlete_ref"
        ref = entry.athlete_ref
        problem = None
        if not ref.strip():
            problem = "required: an athlete reference (an opaque id, never a name)"
        elif not ATHLETE_REF.match(ref):
            problem = "must be an opaque id of 1-64 letters, digits or ._:- (never a name)"
        elif ref in first_row:
            problem = f"duplicate athlete reference (first seen at row {first_row[ref]})"
        broken = [(v.field, v.description) for v in contract.violations(source, f"athletes[{position}].")]
        if problem is not None or broken:
            out.rejected.append((position, rejected(entry, [(where, problem)] if problem else broken)))
            continue
        first_row[ref] = entry.row_number
        out.accepted.append((position, entry))
    return out


def chunked(items: Sequence[Indexed], size: int) -> list[list[Indexed]]:
    """Consecutive chunks of at most ``size`` athletes."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def input_key(entry: encounter_pb2.RosterEntry) -> bytes:
    """The entry's deterministic serialization without its reference and row: equal keys mean
    equal patient, findings and answers, so equal intake items (``_distinct``'s key) and equal
    answers.  A field added to ``RosterEntry`` only makes the groups finer.  The copy costs
    ~4 us per athlete; the intake item's keyword construction ~20 (its fields copied)."""
    bare = encounter_pb2.RosterEntry()
    bare.CopyFrom(entry)
    bare.ClearField("athlete_ref")
    bare.ClearField("row_number")
    return bare.SerializeToString(deterministic=True)


def chunked_by_input(items: Sequence[Indexed], size: int) -> list[list[Indexed]]:
    """``chunked`` of the roster ordered by athlete input: each input's repeats follow its first
    athlete, so a chunk's ``_distinct`` sees them together and screens each input once.

    Consecutive chunks cut a team's repeats (the same sport, competition and "no" answers) over
    every chunk they fell in.  Ordered first, a repeated input is screened once per chunk it
    spans: at most distinct inputs + chunks - 1 items in all.  Chunks keep ``size`` athletes, so
    the tasks stay as many and as even as before (chunks of 250 distinct inputs with all their
    repeats put 8,355 of a 10,000-athlete team in the first, which kept one worker busy after
    the others were done); positions travel with the athletes, so the chunk task and the results (keyed by
    position) are unchanged, and a roster without repeats gets ``chunked``'s chunks.  Tenth pass.
    """
    groups: dict[bytes, list[Indexed]] = {}
    for athlete in items:
        key = input_key(athlete[1])
        group = groups.get(key)
        if group is None:
            groups[key] = [athlete]
        else:
            group.append(athlete)
    return chunked([athlete for group in groups.values() for athlete in group], size)  # first-seen order


# --- one chunk through the four services ----------------------------------------------------


class BatchCalls(Protocol):
    """The four services' batch RPCs, remote (gRPC with retries) or in-process."""

    def normalize(
        self, request: intake_pb2.NormalizeIntakeBatchRequest
    ) -> intake_pb2.NormalizeIntakeBatchResponse: ...

    def rank(
        self, request: differential_pb2.RankDifferentialBatchRequest
    ) -> differential_pb2.RankDifferentialBatchResponse: ...

    def tests_and_plans(
        self, tests: bytes, plans: bytes
    ) -> tuple[workup_pb2.RecommendTestsBatchResponse, treatment_pb2.PlanTreatmentBatchResponse]:
        """``tests`` and ``plans`` are a serialized ``RecommendTestsBatchRequest`` and
        ``PlanTreatmentBatchRequest`` (``screen_chunk`` splices them from bytes it has)."""
        ...


def _violations(position: int, error: common_pb2.BatchItemError, index: int) -> list[tuple[str, str]]:
    """Batch errors name ``items[i].<field>``; the athlete's result names ``athletes[p].<field>``.

    The chunk's item index means nothing to the caller, so it is dropped from descriptions.
    """
    prefix = f"items[{index}]."
    return [
        (
            f"athletes[{position}].{v.field.removeprefix(prefix)}",
            v.description.replace(prefix, ""),
        )
        for v in error.violations
    ]


def condense(
    entry: encounter_pb2.RosterEntry,
    differential: common_pb2.Differential,
    tests: Sequence[common_pb2.TestRecommendation],
    plan: common_pb2.TreatmentPlan,
) -> encounter_pb2.AthleteResult:
    """One athlete's screening line: triage with reasons, the top three, first test, plan start.

    Kept small on purpose (no codes, citations or explanations): a team has thousands of
    these in Redis, and the full assessment of any one athlete is one Assess call away.
    """
    return encounter_pb2.AthleteResult(
        athlete_ref=entry.athlete_ref,
        row_number=entry.row_number,
        status=encounter_pb2.ATHLETE_STATUS_SCREENED,
        triage=differential.triage.level,
        triage_reasons=list(differential.triage.reasons),
        top_conditions=[
            common_pb2.ConditionScore(
                condition_id=c.condition_id,
                label=c.label,
                probability=c.probability,
                emergency=c.emergency,
                dont_miss=c.dont_miss,
                unlikely=c.unlikely,
            )
            for c in differential.conditions[:TOP_CONDITIONS]
        ],
        first_test_id=tests[0].test_id if tests else "",
        plan_highlights=[item.text for item in plan.items[:PLAN_HIGHLIGHTS]],
    )


def _distinct(
    athletes: Sequence[Indexed], batch: intake_pb2.NormalizeIntakeBatchRequest
) -> list[list[Indexed]]:
    """Fill ``batch`` with one intake item per distinct athlete input; the groups, item by item.

    Athletes whose stage inputs (patient, evidence, answers: everything but the reference and
    the row) are byte-identical get byte-identical answers from every stage - each batch item
    is answered from its own fields alone, whatever sits beside it in the batch
    (tests/test_screening_determinism.py) - so each distinct input is screened once and its
    answer written for every athlete who gave it.  A team's healthy athletes often do: the
    same sport, the same competition, a blank symptoms column (docs/performance.md, eighth
    pass).  The key is the item's own serialization (a few us); a repeat's item is dropped.
    """
    groups: list[list[Indexed]] = []
    seen: dict[bytes, list[Indexed]] = {}
    items = batch.items
    for athlete in athletes:
        key = items.add(**stages.intake_fields(athlete[1])).SerializeToString(deterministic=True)
        group = seen.get(key)
        if group is None:
            seen[key] = group = [athlete]
            groups.append(group)
        else:
            del items[-1]
            group.append(athlete)
    return groups


def screen_chunk(athletes: Sequence[Indexed], calls: BatchCalls) -> list[Result]:
    """Screen a chunk: one batch call per service, bad rows turned into rejected results.

    Each distinct athlete input goes through the services once (``_distinct``); a batch item's
    index is its group's, and every athlete of a group gets its own result (its reference, row
    and position; a rejection names its own ``athletes[p]`` fields).
    """
    out: list[Result] = []

    def reject(group: list[Indexed], errors: Sequence[common_pb2.BatchItemError], index: int) -> None:
        """Every athlete of ``group`` rejected, each violation naming that athlete's own fields."""
        out.extend((p, rejected(e, [v for error in errors for v in _violations(p, error, index)])) for p, e in group)

    # Batch items filled in place (``items.add``): one copy of each field, not two.
    intake_batch = intake_pb2.NormalizeIntakeBatchRequest()
    groups = _distinct(athletes, intake_batch)
    intake = calls.normalize(intake_batch)
    normalized: list[tuple[list[Indexed], intake_pb2.NormalizeIntakeResponse]] = []
    for i, (group, result) in enumerate(zip(groups, intake.results, strict=True)):
        if result.WhichOneof("outcome") == "error":
            reject(group, [result.error], i)
        else:
            normalized.append((group, result.response))
    if not normalized:
        return sorted(out, key=lambda r: r[0])

    rank_batch = differential_pb2.RankDifferentialBatchRequest(omit_explanations=True)
    for _, n in normalized:
        rank_batch.items.add(**stages.differential_fields(n))
    ranked = calls.rank(rank_batch)
    cases: list[tuple[list[Indexed], common_pb2.Differential]] = []
    # The work-up and treatment batches as bytes (``stages.workup_bytes``): each athlete's
    # differential serialized once for both, its patient and evidence as the ranking item
    # serializes them.  Built as messages they cost a parse of the differential per item and
    # gRPC's serialization of both batches again: 96 -> 40 us per athlete (eighth pass).
    tests_items: list[bytes] = []
    plans_items: list[bytes] = []
    for i, ((group, _), item, ranked_one) in enumerate(zip(normalized, rank_batch.items, ranked.results, strict=True)):
        if ranked_one.WhichOneof("outcome") == "error":
            reject(group, [ranked_one.error], i)
            continue
        differential = ranked_one.differential
        cases.append((group, differential))
        raw = differential.SerializeToString()
        tests_items.append(stages.workup_bytes(item.SerializeToString(), raw))
        plans_items.append(stages.treatment_bytes(item.patient.SerializeToString(), raw))

    if not cases:
        return sorted(out, key=lambda r: r[0])
    tests, plans = calls.tests_and_plans(stages.batch_bytes(tests_items), stages.batch_bytes(plans_items))
    for i, ((group, differential), t, p) in enumerate(zip(cases, tests.results, plans.results, strict=True)):
        errors = [r.error for r in (t, p) if r.WhichOneof("outcome") == "error"]
        if errors:
            reject(group, errors, i)
        else:
            out.extend(_fanned_out(group, condense(group[0][1], differential, t.response.tests, p.plan)))
    return sorted(out, key=lambda r: r[0])


def _fanned_out(group: list[Indexed], line: encounter_pb2.AthleteResult) -> list[Result]:
    """The first athlete's line, and for each repeat a copy under its own reference and row:
    the same message ``condense`` builds for it (~1 us against ~10; tenth pass)."""
    out: list[Result] = [(group[0][0], line)]
    for position, entry in group[1:]:
        twin = encounter_pb2.AthleteResult()
        twin.CopyFrom(line)
        twin.athlete_ref = entry.athlete_ref
        twin.row_number = entry.row_number
        out.append((position, twin))
    return out


class LocalBatchCalls:
    """``BatchCalls`` in-process (``footcds screen --local``): the services' own batch handlers."""

    def normalize(
        self, request: intake_pb2.NormalizeIntakeBatchRequest
    ) -> intake_pb2.NormalizeIntakeBatchResponse:
        from services.intake.handlers import normalize_intake_batch

        return normalize_intake_batch(request)

    def rank(
        self, request: differential_pb2.RankDifferentialBatchRequest
    ) -> differential_pb2.RankDifferentialBatchResponse:
        from services.differential.handlers import rank_differential_batch

        return rank_differential_batch(request)

    def tests_and_plans(
        self, tests: bytes, plans: bytes
    ) -> tuple[workup_pb2.RecommendTestsBatchResponse, treatment_pb2.PlanTreatmentBatchResponse]:
        from services.treatment.handlers import plan_treatment_batch
        from services.workup.handlers import recommend_tests_batch

        return (recommend_tests_batch(workup_pb2.RecommendTestsBatchRequest.FromString(tests)),
                plan_treatment_batch(treatment_pb2.PlanTreatmentBatchRequest.FromString(plans)))


def screen_roster(
    entries: Sequence[encounter_pb2.RosterEntry],
    calls: BatchCalls,
    chunk_size: int,
    on_progress: Callable[[Tally], None] | None = None,
) -> list[encounter_pb2.AthleteResult]:
    """A whole roster, chunk after chunk, in this process (``--local``); results in roster order."""
    prepared = prepare(entries)
    done: list[Result] = list(prepared.rejected)
    tally = Tally.of(r for _, r in done)
    for chunk in chunked_by_input(prepared.accepted, chunk_size):
        results = screen_chunk(chunk, calls)
        done.extend(results)
        tally.merge(Tally.of(r for _, r in results))
        if on_progress is not None:
            on_progress(tally)
    return [result for _, result in sorted(done, key=lambda r: r[0])]

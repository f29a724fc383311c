"""Team screening as plain functions: roster rows in, per-athlete results and a team summary out.

The distributed path (a Celery chunk task calling the services' batch RPCs) and ``--local``
(the same batch handlers in-process) both run ``screen_chunk`` with a different ``BatchCalls``,
so the two cannot drift apart.  A bad row never sinks the roster: it becomes a REJECTED result
that names its row and fields, and every input row comes out exactly once.
"""

from __future__ import annotations

import re
from collections import Counter
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

from services.common import contract
from services.common.errors import LimitExceeded
from services.encounter import stages
from services.knowledge.loader import KnowledgeBase

ATHLETE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TOP_CONDITIONS = 3
PLAN_HIGHLIGHTS = 3
TRIAGE_LEVELS = (
    common_pb2.TRIAGE_LEVEL_EMERGENCY,
    common_pb2.TRIAGE_LEVEL_URGENT,
    common_pb2.TRIAGE_LEVEL_ROUTINE,
    common_pb2.TRIAGE_LEVEL_SELF_CARE,
)
TRIAGE_NAMES = {
    common_pb2.TRIAGE_LEVEL_EMERGENCY: "emergency",
    common_pb2.TRIAGE_LEVEL_URGENT: "urgent",
    common_pb2.TRIAGE_LEVEL_ROUTINE: "routine",
    common_pb2.TRIAGE_LEVEL_SELF_CARE: "self_care",
}
FOLLOW_UP_LEVELS = frozenset({common_pb2.TRIAGE_LEVEL_EMERGENCY, common_pb2.TRIAGE_LEVEL_URGENT})

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
        self,
        tests: workup_pb2.RecommendTestsBatchRequest,
        plans: treatment_pb2.PlanTreatmentBatchRequest,
    ) -> tuple[workup_pb2.RecommendTestsBatchResponse, treatment_pb2.PlanTreatmentBatchResponse]: ...


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


def screen_chunk(athletes: Sequence[Indexed], calls: BatchCalls) -> list[Result]:
    """Screen a chunk: one batch call per service, bad rows turned into rejected results."""
    out: list[Result] = []
    intake = calls.normalize(
        intake_pb2.NormalizeIntakeBatchRequest(
            items=[stages.intake_request(e) for _, e in athletes]
        )
    )
    normalized: list[tuple[int, encounter_pb2.RosterEntry, intake_pb2.NormalizeIntakeResponse]] = []
    for i, ((position, entry), result) in enumerate(zip(athletes, intake.results, strict=True)):
        if result.WhichOneof("outcome") == "error":
            out.append((position, rejected(entry, _violations(position, result.error, i))))
        else:
            normalized.append((position, entry, result.response))
    if not normalized:
        return sorted(out, key=lambda r: r[0])

    ranked = calls.rank(
        differential_pb2.RankDifferentialBatchRequest(
            items=[stages.differential_request(n) for _, _, n in normalized],
            omit_explanations=True,
        )
    )
    cases: list[tuple[int, encounter_pb2.RosterEntry, intake_pb2.NormalizeIntakeResponse, common_pb2.Differential]]
    cases = []
    for i, ((position, entry, n), ranked_one) in enumerate(zip(normalized, ranked.results, strict=True)):
        if ranked_one.WhichOneof("outcome") == "error":
            out.append((position, rejected(entry, _violations(position, ranked_one.error, i))))
        else:
            cases.append((position, entry, n, ranked_one.differential))

    tests, plans = calls.tests_and_plans(
        workup_pb2.RecommendTestsBatchRequest(items=[stages.workup_request(n, d) for _, _, n, d in cases]),
        treatment_pb2.PlanTreatmentBatchRequest(items=[stages.treatment_request(n, d) for _, _, n, d in cases]),
    )
    for i, ((position, entry, _, differential), t, p) in enumerate(
        zip(cases, tests.results, plans.results, strict=True)
    ):
        errors = [r.error for r in (t, p) if r.WhichOneof("outcome") == "error"]
        if errors:
            violations = [v for e in errors for v in _violations(position, e, i)]
            out.append((position, rejected(entry, violations)))
        else:
            out.append((position, condense(entry, differential, t.response.tests, p.plan)))
    return sorted(out, key=lambda r: r[0])


# --- progress and the team view -------------------------------------------------------------


@dataclass
class Tally:
    """Counts over results: what WatchScreening reports, kept per chunk and summed."""

    done: int = 0
    rejected: int = 0
    by_triage: Counter[int] = field(default_factory=Counter)

    def add(self, result: encounter_pb2.AthleteResult) -> None:
        self.done += 1
        if result.status == encounter_pb2.ATHLETE_STATUS_REJECTED:
            self.rejected += 1
        else:
            self.by_triage[result.triage] += 1

    def merge(self, other: Tally) -> None:
        self.done += other.done
        self.rejected += other.rejected
        self.by_triage.update(other.by_triage)

    def encode(self) -> str:
        """A compact, order-fixed form for a Redis hash field: done,rejected,e,u,r,s."""
        return ",".join(str(n) for n in (self.done, self.rejected, *(self.by_triage[t] for t in TRIAGE_LEVELS)))

    @classmethod
    def decode(cls, text: str) -> Tally:
        done, rejected_, *levels = (int(n) for n in text.split(","))
        return cls(done, rejected_, Counter(dict(zip(TRIAGE_LEVELS, levels, strict=True))))

    @classmethod
    def of(cls, results: Iterable[encounter_pb2.AthleteResult]) -> Tally:
        tally = cls()
        for result in results:
            tally.add(result)
        return tally

    def triage_counts(self) -> list[encounter_pb2.TriageCount]:
        """Every level, most urgent first, zeros included (charts and tables stay aligned)."""
        return [encounter_pb2.TriageCount(level=t, count=self.by_triage[t]) for t in TRIAGE_LEVELS]


def _leading(result: encounter_pb2.AthleteResult) -> common_pb2.ConditionScore | None:
    if result.status != encounter_pb2.ATHLETE_STATUS_SCREENED or not result.top_conditions:
        return None
    return result.top_conditions[0]


def team_advice(kb: KnowledgeBase, screened: Sequence[encounter_pb2.AthleteResult]) -> list[str]:
    """The team_advice.yaml rules whose cluster thresholds the roster meets, largest first."""
    if not screened:
        return []
    fired: list[tuple[int, str]] = []
    for rule in kb.team_advice:
        ids = set(rule.condition_ids)
        count = 0
        for result in screened:
            lead = _leading(result)
            if lead is not None and lead.condition_id in ids and lead.probability >= rule.min_probability:
                count += 1
        share = count / len(screened)
        if count >= rule.min_athletes and share >= rule.min_share:
            labels = ", ".join(kb.conditions[c].label for c in rule.condition_ids if c in kb.conditions)
            fired.append(
                (count, f"{rule.title}: {count} of {len(screened)} screened athletes ({share:.0%}) "
                        f"lead with {labels}. {rule.advice}")
            )
    return [text for _, text in sorted(fired, key=lambda f: -f[0])]


def follow_up(screened: Iterable[encounter_pb2.AthleteResult]) -> list[encounter_pb2.FollowUp]:
    """Athletes triaged urgent or emergency: emergencies first, then by row."""
    items = [r for r in screened if r.triage in FOLLOW_UP_LEVELS]
    items.sort(key=lambda r: (r.triage, r.row_number))
    return [
        encounter_pb2.FollowUp(
            athlete_ref=r.athlete_ref,
            row_number=r.row_number,
            triage=r.triage,
            leading_condition_id=r.top_conditions[0].condition_id if r.top_conditions else "",
            reason=r.triage_reasons[0] if r.triage_reasons else "",
        )
        for r in items
    ]


def summarize(
    kb: KnowledgeBase,
    results: Iterable[encounter_pb2.AthleteResult],
    *,
    total: int,
    state: int,
    team_label: str = "",
) -> encounter_pb2.TeamSummary:
    """The team view: counts by triage, leading causes, who needs follow-up, team advice."""
    results = list(results)
    screened = [r for r in results if r.status == encounter_pb2.ATHLETE_STATUS_SCREENED]
    tally = Tally.of(results)
    leading = Counter(lead.condition_id for r in screened if (lead := _leading(r)) is not None)
    return encounter_pb2.TeamSummary(
        state=state,  # type: ignore[arg-type]
        total=total,
        screened=len(screened),
        rejected=tally.rejected,
        by_triage=tally.triage_counts(),
        top_conditions=[
            encounter_pb2.ConditionCount(
                condition_id=cid,
                label=kb.conditions[cid].label if cid in kb.conditions else cid,
                count=count,
            )
            for cid, count in sorted(leading.items(), key=lambda item: (-item[1], item[0]))
        ],
        follow_up=follow_up(screened),
        team_advice=team_advice(kb, screened),
        team_label=team_label,
    )


class LocalBatchCalls:
    """``BatchCalls`` in-process (``footcds screen --local``): the services' own batch handlers."""

    def normalize(
        self, request: intake_pb2.NormalizeIntakeBatchRequest
    ) -> intake_pb2.NormalizeIntakeBatchResponse:
        from services.intake.servicer import normalize_intake_batch

        return normalize_intake_batch(request)

    def rank(
        self, request: differential_pb2.RankDifferentialBatchRequest
    ) -> differential_pb2.RankDifferentialBatchResponse:
        from services.differential.servicer import rank_differential_batch

        return rank_differential_batch(request)

    def tests_and_plans(
        self,
        tests: workup_pb2.RecommendTestsBatchRequest,
        plans: treatment_pb2.PlanTreatmentBatchRequest,
    ) -> tuple[workup_pb2.RecommendTestsBatchResponse, treatment_pb2.PlanTreatmentBatchResponse]:
        from services.treatment.servicer import plan_treatment_batch
        from services.workup.servicer import recommend_tests_batch

        return recommend_tests_batch(tests), plan_treatment_batch(plans)


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
    for chunk in chunked(prepared.accepted, chunk_size):
        results = screen_chunk(chunk, calls)
        done.extend(results)
        tally.merge(Tally.of(r for _, r in results))
        if on_progress is not None:
            on_progress(tally)
    return [result for _, result in sorted(done, key=lambda r: r[0])]

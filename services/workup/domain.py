"""Choose diagnostic tests by their value, and re-rank a differential when results return.

The public face of the work-up: ``recommend_tests`` and ``apply_results`` (what the servicer,
the treatment domain and the tests call), composed from small modules with one job each:

- ``value``: the KB's tests as arrays, entropy / expected-uncertainty math, burden;
- ``selection``: the planning distribution, immediate tests, the greedy search, tiers;
- ``rationale``: the words (each test's rationale, the note, the safety net);
- ``results``: validating results, post-test re-ranking and its explanation.

The math is in ``docs/workup.md``.  Everything clinical comes from the knowledge base: which
conditions are emergencies or don't-miss, the triage thresholds, each test's accuracy, cost,
wait and contraindications.  There are no rules keyed on condition or test ids here.
The names below that moved are re-exported so existing imports keep working.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.knowledge.clinical import (
    Case,
    CitationRef,
    Differential,
    ScoredCondition,
    TestRecommendation,
)
from services.knowledge.loader import KnowledgeBase
from services.knowledge.policy import clinical_policy
from services.platform.errors import InvalidInput, Violation
from services.workup.ranked import Ranked, ranked_of
from services.workup.rationale import (
    pct,
    plan_note,
    recommendation,
    safety_net,
)
from services.workup.results import (
    OUTCOMES,
    PostTestResult,
    ProbabilityChange,
    ReadResult,
    ResultInput,
    post_test_summary,
    read_results,
    rerank,
    result_likelihood,
)
from services.workup.selection import (
    TIERS,
    Context,
    Pick,
    build_context,
    plan,
)
from services.workup.value import (
    CompiledTests,
    available_now,
    background_false_positive,
    compiled_tests,
    expected_uncertainty,
)

NO_TEST_DONT_MISS_CEILING = clinical_policy().workup.no_test_dont_miss_ceiling.value  # policy.yaml


@dataclass(frozen=True, slots=True)
class WorkupResult:
    tests: tuple[TestRecommendation, ...]
    note: str


def _none_needed(kb: KnowledgeBase, leader: ScoredCondition, why: str, *, emergency: bool = False) -> WorkupResult:
    """A single "no test now" entry, with the safety net as the note."""
    test = kb.tests.get(kb.no_test_id)
    citations = (
        tuple(CitationRef(k, kb.sources[k].title) for k in test.citations) if test else ()
    )
    rationale = (
        f"No test before the emergency assessment: {why}."
        if emergency
        else f"No test is needed now: {leader.label} ({pct(leader.probability)}) explains the "
        f"picture and {why}."
    )
    rec = TestRecommendation(
        test_id=kb.no_test_id,
        label=test.label if test else "No test needed now",
        tier="first_line",
        rationale=rationale,
        condition_ids=(leader.condition_id,),
        cpt=tuple(test.cpt) if test else (),
        loinc=tuple(test.loinc) if test else (),
        cost_tier=test.cost_tier if test else "low",
        invasiveness=test.invasiveness if test else "none",
        typical_wait_days=0,
        same_day=True,
        citations=citations,
    )
    return WorkupResult(tests=(rec,), note=f"{rationale} {safety_net(kb, leader.condition_id)}")


def _self_care_without_dont_miss(kb: KnowledgeBase, ranked: Ranked) -> str | None:
    """Why no test is needed, when triage is self-care and nothing dangerous is open.

    Self-care triage already means no red flag and no emergency cause at the don't-miss
    threshold; a non-emergency don't-miss cause below the policy ceiling is left to the
    self-care safety net (see a clinician if it persists) rather than tested now.
    """
    if ranked.triage.level != "self_care":
        return None
    ceiling = NO_TEST_DONT_MISS_CEILING
    if any(c.emergency or c.probability >= ceiling for c in ranked.dont_miss):
        return None
    return f"triage is self-care with no don't-miss condition at or above {pct(ceiling)}"


def recommend_tests(
    kb: KnowledgeBase,
    case: Case,
    differential: Differential,
    *,
    exclude: Iterable[str] = (),
    prefix: str = "",
) -> WorkupResult:
    """The tiered test plan for a differential (``exclude``: tests already resulted)."""
    start = plan_context(kb, case, ranked_of(differential), exclude=exclude, prefix=prefix)
    if isinstance(start, WorkupResult):
        return start
    return finish_plan(start, plan(start.ctx))


@dataclass(frozen=True, slots=True)
class Pending:
    """A work-up whose tests are still to be chosen (``plan`` or ``batch_search.plan_batch``)."""

    ranked: Ranked
    leader: ScoredCondition  # ``ranked.leader``, never None: plan_context refuses an empty differential
    ctx: Context


def plan_context(
    kb: KnowledgeBase,
    case: Case,
    ranked: Ranked,
    *,
    exclude: Iterable[str] = (),
    prefix: str = "",
) -> WorkupResult | Pending:
    """``recommend_tests`` up to the search: its answer when no test is needed, else what
    the search needs (so a batch can run all its searches together).  The one check that
    the differential is not empty (a ranked differential has a leader)."""
    leader = ranked.leader
    if leader is None:
        raise InvalidInput(
            [Violation(f"{prefix}differential.conditions", "a ranked differential is required")]
        )
    why = _self_care_without_dont_miss(kb, ranked)
    if why is not None:
        return _none_needed(kb, leader, why)
    return Pending(ranked, leader, build_context(kb, case, ranked, exclude, prefix))


def finish_plan(pending: Pending, picks: Sequence[Pick]) -> WorkupResult:
    """The chosen tests in words, with the plan's note."""
    ctx = pending.ctx
    if ctx.emergency_triage and not ctx.emergencies and not any(p.tier == "immediate" for p in picks):
        # An emergency red flag whose suspected cause is no emergency condition with a catalogue
        # test (deep frostbite is judged on examination): the emergency department comes first,
        # outpatient tests do not.  (With an emergency condition open, e.g. after its immediate
        # test has resulted, the plan goes on as usual.)
        flags = ", ".join(f.description for f in pending.ranked.triage.red_flags[:1])
        return _none_needed(
            ctx.kb, pending.leader,
            "go to the emergency department now; no test in this catalogue answers the suspected "
            f"emergency{f' ({flags})' if flags else ''}, and further tests are chosen there",
            emergency=True,
        )
    if not picks:
        return _none_needed(
            ctx.kb, pending.leader, "no test in the catalogue would change the differential usefully"
        )
    tests = tuple(recommendation(ctx, p) for p in picks)
    return WorkupResult(tests=tests, note=plan_note(ctx, tests))


def apply_results(
    kb: KnowledgeBase, case: Case, results: Sequence[ResultInput], prefix: str = "results"
) -> PostTestResult:
    """Post-test probabilities: the case's posterior times ``P(result | c)``, renormalized.

    Results are applied one after another (conditionally independent given the condition),
    so the order does not change the outcome, only the explanation's wording.
    """
    reads = read_results(kb, results, prefix)
    before_diff, after_diff, changes = rerank(kb, case, reads)
    resulted = {r.test.id for r in reads}
    next_tests = recommend_tests(kb, case, after_diff, exclude=resulted).tests
    return PostTestResult(
        differential=after_diff,
        next_tests=next_tests,
        changes=changes,
        summary=post_test_summary(before_diff, after_diff, reads, changes, kb),
    )


__all__ = [
    "OUTCOMES",
    "TIERS",
    "PostTestResult",
    "ProbabilityChange",
    "ReadResult",
    "ResultInput",
    "CompiledTests",
    "WorkupResult",
    "apply_results",
    "available_now",
    "background_false_positive",
    "expected_uncertainty",
    "read_results",
    "recommend_tests",
    "result_likelihood",
    "compiled_tests",
]

"""The words of a plan: each test's rationale, don't-miss and burden phrases, the note.

Split out of ``domain.py`` because the wording changes for different reasons (clinician
feedback) than the choice of tests does; nothing here changes which tests are picked, it
only explains a ``selection.Pick`` with figures quoted from the differential and the KB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.knowledge.clinical import (
    CitationRef,
    Differential,
    ScoredCondition,
    TestRecommendation,
)
from services.knowledge.loader import KnowledgeBase
from services.knowledge.memo import PerKnowledgeBase
from services.knowledge.models import DiagnosticTest
from services.workup.candidates import contraindications_found
from services.workup.ranked import leader_index
from services.workup.selection import Context, Pick
from services.workup.value import available_now

RATIONALE_CANDIDATES = 5


# --- words --------------------------------------------------------------------------------


def pct(p: float) -> str:
    return f"{p:.0%}" if p >= 0.095 or p == 0 else f"{p:.1%}"


def _label(ctx: Context, cid: str) -> str:
    return ctx.kb.conditions[cid].label


def bears_on(ctx: Context, test: DiagnosticTest) -> tuple[str, ...]:
    """Conditions the test detects that the differential still considers, most likely first."""
    floor = ctx.kb.triage_policy.unlikely_floor
    watched = {ctx.table.condition_ids[i] for i in ctx.watched}
    detected = [
        cid
        for cid in test.detects
        if ctx.shown[ctx.table.condition_index[cid]] >= floor or cid in watched
        or cid in ctx.emergencies
    ]
    if not detected:
        detected = list(test.detects)
    detected.sort(key=lambda c: -ctx.shown[ctx.table.condition_index[c]])
    return tuple(detected[:6])


@dataclass(frozen=True, slots=True)
class _Quoted:
    """What ``_separation`` reads of a context, the same for each of its tests."""

    shown: list[float]  # the differential's probabilities with the pooled rest last
    named: list[int]  # the most probable kept conditions (at most RATIONALE_CANDIDATES)
    prior: list[float]  # the planning distribution


_QUOTED: list[tuple[Context, _Quoted]] = []  # the last context's (a plan's tests share it)


def _quoted(ctx: Context) -> _Quoted:
    """``_separation``'s per-context figures, computed once per plan, not once per test
    (read into a local first: handlers may run in threads, and a stale entry is only a miss)."""
    last = _QUOTED[0] if _QUOTED else None
    if last is not None and last[0] is ctx:
        return last[1]
    n = len(ctx.table.condition_ids)
    kept = ctx.prior[:n] > 0
    shown = np.append(np.where(kept, ctx.shown, 0.0), ctx.shown[~kept].sum())
    named = [int(i) for i in np.argsort(-ctx.prior[:n])[:RATIONALE_CANDIDATES] if ctx.prior[i] > 0]
    quoted = _Quoted(shown.tolist(), named, ctx.prior.tolist())
    _QUOTED[:] = [(ctx, quoted)]
    return quoted


def _separation(ctx: Context, ti: int) -> str:
    """Name the pair of likely causes this test tells apart best.

    The pair maximizes ``p_i p_j (P(abnormal | i) - P(abnormal | j))`` on the planning
    distribution among the most probable kept conditions; only when no two of them differ
    does "the other causes" (the pooled rest, at the background false-positive rate) stand in.
    """
    table = ctx.table
    n = len(table.condition_ids)
    a = table.planning[ti]
    quoted = _quoted(ctx)
    shown, named = quoted.shown, quoted.named

    # Python floats: the same IEEE double products as NumPy scalars, without their overhead.
    prior, abnormal = quoted.prior, a.tolist()

    def best_pair(candidates: Sequence[int]) -> tuple[float, int, int] | None:
        best: tuple[float, int, int] | None = None
        for i in candidates:
            for j in candidates:
                gain = prior[i] * prior[j] * (abnormal[i] - abnormal[j])
                if gain > 0 and (best is None or gain > best[0]):
                    best = (gain, i, j)
        return best

    # Name two conditions when the test tells two of them apart; else the leader vs the rest.
    best = best_pair(named) or best_pair([*named, n] if prior[n] > 0 else named)
    if best is None:
        return ""
    _, hi, lo = best

    def name(i: int) -> str:
        label = "the other causes together" if i == n else _label(ctx, table.condition_ids[i])
        return f"{label} ({pct(shown[i])})"

    if lo == n:
        return (
            f"Tests for {name(hi)} against the other causes together "
            f"({pct(shown[n])}): abnormal in about {a[hi]:.0%} with it vs {a[lo]:.0%} "
            "without."
        )
    return (
        f"Separates {name(hi)} from {name(lo)}: abnormal in about {a[hi]:.0%} vs {a[lo]:.0%}."
    )


def _dont_miss_words(ctx: Context, test: DiagnosticTest) -> str:
    names = []
    for i in ctx.watched:
        cid = ctx.table.condition_ids[i]
        acc = test.detects.get(cid)
        if acc is not None:
            names.append(
                f"{_label(ctx, cid)} ({pct(float(ctx.shown[i]))}; sensitivity "
                f"{acc.sensitivity:.0%}, specificity {acc.specificity:.0%})"
            )
    return f"Confirms or excludes don't-miss {', '.join(names)}." if names else ""


def _burden_words(test: DiagnosticTest) -> str:
    when = "same day" if test.same_day else f"typically {test.typical_wait_days} days' wait"
    return f"{test.cost_tier.capitalize()} cost, invasiveness {test.invasiveness}, {when}."


def _rationale(ctx: Context, pick: Pick) -> str:
    kb = ctx.kb
    test = kb.tests[pick.test_id]
    parts: list[str] = []
    if pick.tier == "immediate":
        cid = pick.reason
        parts.append(
            f"Now: {_label(ctx, cid)} is suspected "
            f"({pct(float(ctx.shown[ctx.table.condition_index[cid]]))}) and is an emergency; "
            "this is the quickest informative test in the catalogue that confirms or excludes it."
        )
    found = contraindications_found(test, ctx.flags)
    if found:
        flags = ", ".join(f.replace("_", " ") for f in found)
        if pick.replaces:
            alternatives = ", ".join(kb.tests[t].label for t in pick.replaces)
            parts.append(
                f"Contraindicated here ({flags}): not advised; {alternatives} is listed "
                "instead for the same conditions."
            )
        else:
            parts.append(
                f"Contraindicated here ({flags}) and no other test in the catalogue answers "
                "the same question: discuss safety with the performing service before ordering."
            )
    if pick.stands_in_for:
        others = ", ".join(kb.tests[t].label for t in pick.stands_in_for)
        parts.append(f"Listed instead of {others}, which is contraindicated here.")
    separation = _separation(ctx, ctx.table.test_index[pick.test_id])
    if separation:
        parts.append(separation)
    dont_miss = _dont_miss_words(ctx, test)
    if dont_miss:
        parts.append(dont_miss)
    if pick.tier == "if_unclear" and ctx.emergency_triage:
        parts.append("Only after the emergency has been dealt with.")
    elif pick.tier == "if_unclear":
        parts.append("Only if the first-line results leave the picture unclear.")
    if pick.tier == "immediate":
        parts.append("Arrange as an emergency, today.")
    else:
        parts.append(_burden_words(test))
    return " ".join(parts)


def _citations(
    kb: KnowledgeBase, test: DiagnosticTest, conditions: Sequence[str]
) -> tuple[CitationRef, ...]:
    """The test's own citations, then each quoted condition's accuracy citations (memoised per
    knowledge base, test and conditions: a roster asks for the same few combinations)."""
    return _CITED.get(kb, (test.id, tuple(conditions)), lambda: _citations_of(kb, test, conditions))


def _citations_of(
    kb: KnowledgeBase, test: DiagnosticTest, conditions: Sequence[str]
) -> tuple[CitationRef, ...]:
    refs: dict[str, CitationRef] = {}
    for key in test.citations:
        refs.setdefault(key, CitationRef(key, kb.sources[key].title))
    for cid in conditions:
        acc = test.detects.get(cid)
        if acc is None:
            continue
        for key in acc.citations:
            refs.setdefault(key, CitationRef(key, kb.sources[key].title, acc.estimate))
    return tuple(refs.values())


_CITED: PerKnowledgeBase[tuple[str, tuple[str, ...]], tuple[CitationRef, ...]] = PerKnowledgeBase(4096)


def recommendation(ctx: Context, pick: Pick) -> TestRecommendation:
    kb = ctx.kb
    test = kb.tests[pick.test_id]
    conditions = bears_on(ctx, test)
    # An immediate test is done today on the emergency pathway, whatever the outpatient wait.
    now = available_now(test, pick.reason if pick.tier == "immediate" else None)
    return TestRecommendation(
        test_id=test.id,
        label=test.label,
        tier=pick.tier,
        rationale=_rationale(ctx, pick),
        condition_ids=conditions,
        cpt=tuple(test.cpt),
        loinc=tuple(test.loinc),
        contraindications_found=contraindications_found(test, ctx.flags),
        value_score=round(pick.score, 4),
        cost_tier=test.cost_tier,
        invasiveness=test.invasiveness,
        typical_wait_days=test.typical_wait_days,
        same_day=now,
        citations=_citations(kb, test, conditions),
    )


def leading_condition(differential: Differential) -> ScoredCondition:
    """The most probable condition, by the one leader rule (``ranked.leader_index``)."""
    conditions = differential.conditions
    return conditions[leader_index(tuple(c.probability for c in conditions))]


def safety_net(kb: KnowledgeBase, leader: str) -> str:
    plan = kb.plans.get(leader)
    extra = " ".join(plan.safety_net) if plan is not None else ""
    generic = (
        "If numbness persists at rest, spreads, or weakness, balance or bladder/bowel problems "
        "appear, see a clinician promptly for examination and testing."
    )
    return f"{generic} {extra}".strip()


def plan_note(ctx: Context, tests: Sequence[TestRecommendation]) -> str:
    if any(t.tier == "immediate" for t in tests):
        names = ", ".join(_label(ctx, c) for c in ctx.emergencies)
        return (
            f"Immediate tests first: {names} must be confirmed or excluded now. The rest of "
            "the work-up waits until the emergency is dealt with; submit results to re-rank."
        )
    first = [t.label for t in tests if t.tier == "first_line"]
    return (
        f"Start with {', '.join(first) or tests[0].label}; submit the results to re-rank the "
        "differential. If-unclear tests are only worth doing if the first line leaves the "
        "leading conditions unseparated."
    )

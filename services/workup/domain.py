"""Choose diagnostic tests by their value, and re-rank a differential when results return.

The math is in ``docs/workup.md``.  In short: conditions are mutually exclusive, a test's
result is binary (normal / abnormal) and conditionally independent of the findings and of
other tests given the condition, ``P(abnormal | c)`` is the KB sensitivity for a condition
the test detects and its background false-positive rate (1 - mean specificity) for any
other.  A test is worth what it is expected to remove from a concave uncertainty measure
(Shannon entropy of the differential plus the binary entropy of each open don't-miss
condition), divided by its burden (cost tier, invasiveness, wait).  Tests are picked
greedily, each valued *given* the ones already chosen, so a second test that only repeats
the first is worth little and the plan stays short.

Everything clinical comes from the knowledge base: which conditions are emergencies or
don't-miss, the triage thresholds, each test's accuracy, cost, wait and contraindications.
There are no rules keyed on condition or test ids here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from services.common.clinical import (
    Case,
    CitationRef,
    Differential,
    ScoredCondition,
    TestRecommendation,
)
from services.common.errors import InvalidInput, Violation
from services.differential.ranking import (
    RankingModel,
    compile_model,
    differential_from_probabilities,
    posterior,
)
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import DiagnosticTest

Array = npt.NDArray[np.float64]

NONE_NEEDED = "none_needed"
TIERS = ("immediate", "first_line", "if_unclear")
OUTCOMES = ("normal", "abnormal")

# Weight of the binary entropy of each open don't-miss condition, relative to the entropy of
# the whole differential: a nat about "is the dangerous cause there or not" counts 2.5 times
# (once in the entropy, 1.5 more here) a nat that only reshuffles benign causes.
DONT_MISS_WEIGHT = 1.5
# Burden of a test: (1 + cost)(1 + invasiveness)(1 + wait / WAIT_SCALE_DAYS), divided into
# its information.  A medium-cost test with a four-week wait must be three times as
# informative as a cheap same-day one to be ordered first (see docs/workup.md).
COST_BURDEN = {"low": 0.0, "medium": 0.5, "high": 1.0}
INVASIVENESS_BURDEN = {"none": 0.0, "minimal": 0.25, "moderate": 2.0, "high": 4.0}
WAIT_SCALE_DAYS = 28.0
MAX_WAIT_DAYS = 42
# In the immediate tier only time to a result matters: each day of waiting adds 1 to the divisor.
EMERGENCY_WAIT_BURDEN_PER_DAY = 1.0
# Plan shape: don't over-test.
MAX_TESTS = 5
MAX_FIRST_LINE = 2
FIRST_LINE_RELATIVE = 0.5  # a later pick stays first line if worth >= half the first pick
IF_UNCLEAR_RELATIVE = 0.2  # below a fifth of the first pick's value a test is not listed
MIN_INFORMATION = 0.01  # nats; below this no test changes anything worth a clinician's time
# Planning distribution (see ``planning_distribution``): benign causes below the floor are
# pooled into "the other causes", which always keeps at least the doubt share.
PLANNING_FLOOR = 0.05
PLANNING_DOUBT = 0.3
# How many of the most probable conditions a rationale may name.
RATIONALE_CANDIDATES = 5


# --- the KB's tests as arrays ------------------------------------------------------------


@dataclass(frozen=True)
class CompiledTests:
    """Every test that detects something, as ``P(abnormal | condition)`` rows."""

    kb: KnowledgeBase
    model: RankingModel
    condition_ids: tuple[str, ...]
    condition_index: dict[str, int]
    test_ids: tuple[str, ...]
    test_index: dict[str, int]
    abnormal: Array  # [T, C]
    false_positive: Array  # [T] background false-positive rate
    planning: Array  # [T, C + 1]: ``abnormal`` plus a last "rest" column at the background rate
    burdens: Array  # [T] outpatient ``burden`` of each test (constant per knowledge base)
    contraindicating: frozenset[str]  # every flag that contraindicates some test


_TABLES: dict[int, CompiledTests] = {}


def background_false_positive(test: DiagnosticTest) -> float:
    """``P(abnormal)`` in a condition the test does not detect: 1 - mean KB specificity.

    Specificities in the KB are measured against people without the target condition, which
    is what every other condition of the differential is from the test's point of view; the
    mean pools the figures when a test has several.
    """
    if not test.detects:
        return 0.0
    return 1.0 - float(np.mean([acc.specificity for acc in test.detects.values()]))


def compiled_tests(kb: KnowledgeBase) -> CompiledTests:
    """Compile (once per knowledge base) the tests and the ranking model they re-rank with."""
    cached = _TABLES.get(id(kb))
    if cached is not None and cached.kb is kb:
        return cached
    model = compile_model(kb)
    conditions = model.condition_ids
    c_index = {c: i for i, c in enumerate(conditions)}
    usable = [t for t in kb.tests.values() if t.detects]
    abnormal = np.empty((len(usable), len(conditions)))
    false_positive = np.empty(len(usable))
    for ti, test in enumerate(usable):
        fp = background_false_positive(test)
        false_positive[ti] = fp
        abnormal[ti, :] = fp
        for cid, acc in test.detects.items():
            abnormal[ti, c_index[cid]] = acc.sensitivity
    table = CompiledTests(
        kb=kb,
        model=model,
        condition_ids=conditions,
        condition_index=c_index,
        test_ids=tuple(t.id for t in usable),
        test_index={t.id: i for i, t in enumerate(usable)},
        abnormal=abnormal,
        false_positive=false_positive,
        planning=np.concatenate([abnormal, false_positive[:, None]], axis=1),
        burdens=np.array([burden(t) for t in usable]),
        contraindicating=frozenset(f for t in usable for f in t.contraindications),
    )
    _TABLES.clear()  # one knowledge base per process; don't keep stale ones alive
    _TABLES[id(kb)] = table
    return table


# --- uncertainty and expected information -------------------------------------------------


def entropy(p: Array) -> Array:
    """Shannon entropy in nats along the last axis (0 log 0 = 0)."""
    safe = np.where(p > 0, p, 1.0)
    out: Array = -(p * np.log(safe)).sum(axis=-1)
    return out


def binary_entropy(p: Array) -> Array:
    """Entropy in nats of "condition present vs absent" for each probability."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    out: Array = -(q * np.log(q) + (1 - q) * np.log1p(-q))
    return out


def uncertainty(p: Array, watched: Sequence[int]) -> Array:
    """Entropy of the differential plus weighted binary entropy of don't-miss conditions.

    Both terms are concave in ``p``, so the expected uncertainty after any test is never
    above the current one: information values are never negative.
    """
    total = entropy(p)
    if watched:
        total = total + DONT_MISS_WEIGHT * binary_entropy(p[..., list(watched)]).sum(axis=-1)
    return total


def outcome_likelihoods(table: CompiledTests, tests: Sequence[int]) -> Array:
    """``P(joint outcome | condition)`` for every joint outcome of ``tests``: [2^k, C + 1]."""
    rows = np.ones((1, table.planning.shape[1]))
    for ti in tests:
        a = table.planning[ti]
        rows = np.concatenate([rows * a, rows * (1.0 - a)], axis=0)
    return rows


def expected_uncertainty(
    table: CompiledTests, prior: Array, tests: Sequence[int], watched: Sequence[int]
) -> float:
    """Expected uncertainty after seeing the results of ``tests`` (pre-posterior analysis)."""
    likelihood = outcome_likelihoods(table, tests)
    joint = likelihood * prior  # [O, C]
    p_outcome = joint.sum(axis=1)
    keep = p_outcome > 0
    post = joint[keep] / p_outcome[keep, None]
    return float((p_outcome[keep] * uncertainty(post, watched)).sum())


def expected_uncertainty_each(
    table: CompiledTests, prior: Array, chosen: Sequence[int], watched: Sequence[int]
) -> Array:
    """Expected uncertainty after ``chosen`` plus each test in turn: [T], one array pass."""
    likelihood = outcome_likelihoods(table, chosen) * prior  # [O, K]
    a = table.planning[:, None, :]  # [T, 1, K]
    joint = np.concatenate([likelihood * a, likelihood * (1.0 - a)], axis=1)  # [T, 2O, K]
    p_outcome = joint.sum(axis=2)
    safe = np.where(p_outcome > 0, p_outcome, 1.0)
    post = joint / safe[..., None]
    out: Array = (p_outcome * uncertainty(post, watched)).sum(axis=1)
    return out


def available_now(test: DiagnosticTest, condition_id: str | None = None) -> bool:
    """Same day: in the usual setting, or on the emergency pathway for ``condition_id``."""
    return test.same_day or (
        condition_id is not None and condition_id in test.same_day_if_suspected
    )


def burden(
    test: DiagnosticTest, *, emergency: bool = False, condition_id: str | None = None
) -> float:
    """The factor a test's information is divided by (1 = cheap, painless, same day).

    In an emergency only time to a result counts: a test that cannot be done the same day
    is worth a small fraction of one that can, whatever it costs.  A test the KB lists as
    same-day on the emergency pathway for the suspected condition (``same_day_if_suspected``,
    e.g. MRI for cauda equina) counts as same day for that condition only.
    """
    if emergency:
        days = 0 if available_now(test, condition_id) else max(test.typical_wait_days, 1)
        return 1.0 + EMERGENCY_WAIT_BURDEN_PER_DAY * days
    wait = min(test.typical_wait_days, MAX_WAIT_DAYS) / WAIT_SCALE_DAYS
    return (
        (1.0 + COST_BURDEN[test.cost_tier])
        * (1.0 + INVASIVENESS_BURDEN[test.invasiveness])
        * (1.0 + wait)
    )


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkupResult:
    tests: tuple[TestRecommendation, ...]
    note: str


@dataclass(frozen=True, slots=True)
class _Pick:
    test_id: str
    tier: str
    score: float
    information: float
    reason: str = ""  # immediate tier: the emergency it answers
    replaces: tuple[str, ...] = ()  # contraindicated: the tests chosen instead
    stands_in_for: tuple[str, ...] = ()  # chosen instead of these contraindicated tests


@dataclass(frozen=True, slots=True)
class _Context:
    kb: KnowledgeBase
    table: CompiledTests
    prior: Array  # the planning distribution [C + 1]: what tests are valued against
    shown: Array  # the differential's own probabilities: what the words quote
    watched: tuple[int, ...]  # don't-miss condition indices
    emergencies: tuple[str, ...]  # emergency conditions needing an immediate test
    flags: frozenset[str]
    exclude: frozenset[str]
    emergency_triage: bool


def _prior(table: CompiledTests, differential: Differential, prefix: str) -> Array:
    """The differential as a probability vector over the KB's conditions (renormalized)."""
    problems: list[Violation] = []
    prior = np.zeros(len(table.condition_ids))
    for i, c in enumerate(differential.conditions):
        field = f"{prefix}differential.conditions[{i}]"
        if c.condition_id not in table.condition_index:
            problems.append(
                Violation(f"{field}.condition_id", f"unknown condition {c.condition_id!r}")
            )
        elif not (math.isfinite(c.probability) and 0.0 <= c.probability <= 1.0):
            problems.append(Violation(f"{field}.probability", "must be between 0 and 1"))
        else:
            prior[table.condition_index[c.condition_id]] = c.probability
    if not problems and prior.sum() <= 0:
        problems.append(Violation(f"{prefix}differential.conditions", "probabilities sum to 0"))
    if problems:
        raise InvalidInput(problems)
    out: Array = prior / prior.sum()
    return out


def open_emergencies(
    kb: KnowledgeBase, differential: Differential, threshold: float
) -> tuple[str, ...]:
    """Emergency conditions that must be acted on now, most probable first.

    An emergency condition at or above ``threshold``, or one a red flag suspects that the
    ranking still considers (at or above the KB's unlikely floor).  A red flag that names six
    emergencies must not trigger six pathways when the findings point at one (heparin for
    limb ischaemia in a patient on the stroke pathway would be harmful); but when triage is
    emergency and none qualifies, the most probable suspect still counts.
    """
    policy = kb.triage_policy
    flagged = [cid for flag in differential.triage.red_flags for cid in flag.suspect]
    out: list[str] = []
    for c in sorted(differential.conditions, key=lambda c: -c.probability):
        if c.condition_id not in kb.conditions or not kb.conditions[c.condition_id].emergency:
            continue
        above = c.probability >= threshold
        if above or (c.condition_id in flagged and c.probability >= policy.unlikely_floor):
            out.append(c.condition_id)
    if not out and differential.triage.level == "emergency":
        probs = differential.probabilities()
        suspects = [c for c in flagged if c in kb.conditions and kb.conditions[c].emergency]
        if suspects:
            out.append(max(suspects, key=lambda c: probs.get(c, 0.0)))
    return tuple(out)


def planning_distribution(kb: KnowledgeBase, shown: Array, keep: Iterable[int]) -> Array:
    """The differential as tests are valued against: [C + 1], the last entry "the other causes".

    Conditions below ``PLANNING_FLOOR`` that are not kept for another reason (open
    don't-miss, emergency) are pooled into one anonymous alternative that answers every test
    at its background false-positive rate, so no test is valued for chasing a benign cause
    the ranking gives a few percent.  Then ``PLANNING_DOUBT`` of the mass moves to that
    alternative: naive Bayes counts correlated findings as independent evidence and gives a
    textbook history 99.9%, yet a clinician confirms a leading cause before treating it; the
    doubt is the chance the cause is something the ranking has not resolved.  Used only to
    value tests: displayed and post-test probabilities are the ranking's own.
    """
    kept = np.zeros(len(shown), dtype=bool)
    kept[list(keep)] = True
    kept |= shown >= PLANNING_FLOOR
    pooled = np.append(np.where(kept, shown, 0.0), shown[~kept].sum())
    pooled = (1.0 - PLANNING_DOUBT) * pooled
    pooled[-1] += PLANNING_DOUBT
    out: Array = pooled / pooled.sum()
    return out


def _context(
    kb: KnowledgeBase,
    case: Case,
    differential: Differential,
    exclude: Iterable[str],
    prefix: str,
) -> _Context:
    table = compiled_tests(kb)
    prior = _prior(table, differential, prefix)
    floor = kb.triage_policy.unlikely_floor
    watched = tuple(
        dict.fromkeys(
            table.condition_index[c.condition_id]
            for c in differential.dont_miss
            if c.condition_id in table.condition_index and c.probability >= floor
        )
    )
    emergencies = (
        open_emergencies(kb, differential, kb.triage_policy.dont_miss_threshold)
        if differential.triage.level == "emergency"
        else ()
    )
    keep = [*watched, *(table.condition_index[c] for c in emergencies)]
    return _Context(
        kb=kb,
        table=table,
        prior=planning_distribution(kb, prior, keep),
        shown=prior,
        watched=watched,
        emergencies=emergencies,
        flags=case.patient.flags,
        exclude=frozenset(exclude),
        emergency_triage=differential.triage.level == "emergency",
    )


def contraindications_found(test: DiagnosticTest, flags: frozenset[str]) -> tuple[str, ...]:
    return tuple(f for f in test.contraindications if f in flags)


def _immediate_pick(
    ctx: _Context, condition_id: str, *, allow_contraindicated: bool
) -> _Pick | None:
    """The fastest informative test for one emergency condition.

    Information is the binary entropy reduction for that condition at equipoise (p = 0.5):
    the decision is whether to act now, and the ranking's probability of an emergency is not
    trusted to the decimal (a red flag may suspect it while the ranking puts it at 3%).  The
    alternative is "not this condition", so a result is abnormal with probability
    sensitivity(c) with it and 1 - specificity(c) without it: the test's own figures for the
    condition, not its pooled background rate (a low ABI is common in chronic PAD, which is
    what its lower specificity for acute limb ischaemia says).
    Burden is time to a result only, with the KB's emergency pathways counting as same day.
    """
    kb, table = ctx.kb, ctx.table
    best: _Pick | None = None
    for tid in table.test_ids:
        test = kb.tests[tid]
        if condition_id not in test.detects or tid in ctx.exclude:
            continue
        if contraindications_found(test, ctx.flags) and not allow_contraindicated:
            continue
        accuracy = test.detects[condition_id]
        info = equipoise_information(accuracy.sensitivity, 1.0 - accuracy.specificity)
        score = info / burden(test, emergency=True, condition_id=condition_id)
        if best is None or score > best.score:
            best = _Pick(tid, "immediate", score, info, reason=condition_id)
    return best


def equipoise_information(sensitivity: float, false_positive: float) -> float:
    """Mutual information (nats) between a binary result and a 50:50 condition."""
    p_abnormal = 0.5 * (sensitivity + false_positive)
    before = math.log(2.0)
    after = 0.0
    for p_r, p_c in (
        (p_abnormal, 0.5 * sensitivity),
        (1.0 - p_abnormal, 0.5 * (1.0 - sensitivity)),
    ):
        if p_r > 0:
            q = np.array([p_c / p_r])
            after += p_r * float(binary_entropy(q)[0])
    return before - after


def _greedy(ctx: _Context, seeded: Sequence[_Pick], *, avoid_flags: bool) -> list[_Pick]:
    """Add tests one at a time by marginal value (information given the tests before it)."""
    kb, table = ctx.kb, ctx.table
    picks = list(seeded)
    chosen = [table.test_index[p.test_id] for p in picks]
    burdens = table.burdens
    allowed = np.array(
        [
            t not in ctx.exclude
            and not (avoid_flags and contraindications_found(kb.tests[t], ctx.flags))
            for t in table.test_ids
        ]
    )
    first_score: float | None = None
    first_line = 0
    while len(picks) < MAX_TESTS:
        base = expected_uncertainty(table, ctx.prior, chosen, ctx.watched)
        info = base - expected_uncertainty_each(table, ctx.prior, chosen, ctx.watched)
        score = np.where(allowed, info / burdens, -np.inf)
        score[chosen] = -np.inf
        ti = int(np.argmax(score))
        if not np.isfinite(score[ti]) or info[ti] < MIN_INFORMATION:
            break
        if first_score is None:
            first_score = float(score[ti])
        elif score[ti] < IF_UNCLEAR_RELATIVE * first_score:
            break
        worth_first = score[ti] >= FIRST_LINE_RELATIVE * first_score
        if ctx.emergency_triage or not worth_first or first_line >= MAX_FIRST_LINE:
            tier = "if_unclear"
        else:
            tier = "first_line"
            first_line += 1
        picks.append(_Pick(table.test_ids[ti], tier, float(score[ti]), float(info[ti])))
        chosen.append(ti)
    return picks


def _plan(ctx: _Context) -> list[_Pick]:
    """Immediate tests for open emergencies, then the greedy plan; contraindicated tests that
    the unconstrained plan would have used are listed after, flagged, with what replaced them.
    """
    def immediate(allow: bool) -> list[_Pick]:
        out: list[_Pick] = []
        for cid in ctx.emergencies:
            pick = _immediate_pick(ctx, cid, allow_contraindicated=allow)
            if pick is not None and pick.test_id not in {p.test_id for p in out}:
                out.append(pick)
        return out

    safe = _greedy(ctx, immediate(False), avoid_flags=True)
    # No test contraindicated for this patient: the unconstrained plan is the same search
    # with the same inputs, so it is the same plan (and nothing below gets flagged).
    ideal = (
        safe
        if ctx.flags.isdisjoint(ctx.table.contraindicating)
        else _greedy(ctx, immediate(True), avoid_flags=False)
    )
    used = {p.test_id for p in safe}
    flagged: list[_Pick] = []
    for pick in ideal:
        test = ctx.kb.tests[pick.test_id]
        if pick.test_id in used or not contraindications_found(test, ctx.flags):
            continue
        instead = tuple(
            p.test_id
            for p in safe
            if set(ctx.kb.tests[p.test_id].detects) & set(test.detects)
        )
        flagged.append(
            _Pick(pick.test_id, pick.tier, pick.score, pick.information, pick.reason, instead)
        )
    safe = [
        replace(
            p,
            stands_in_for=tuple(f.test_id for f in flagged if p.test_id in f.replaces),
        )
        for p in safe
    ]
    ordered: list[_Pick] = []
    for tier in TIERS:
        ordered += [p for p in safe if p.tier == tier]
        ordered += [p for p in flagged if p.tier == tier]
    return ordered


# --- words --------------------------------------------------------------------------------


def _pct(p: float) -> str:
    return f"{p:.0%}" if p >= 0.095 or p == 0 else f"{p:.1%}"


def _label(ctx: _Context, cid: str) -> str:
    return ctx.kb.conditions[cid].label


def bears_on(ctx: _Context, test: DiagnosticTest) -> tuple[str, ...]:
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


def _separation(ctx: _Context, ti: int) -> str:
    """Name the pair of likely causes this test tells apart best.

    The pair maximizes ``p_i p_j (P(abnormal | i) - P(abnormal | j))`` on the planning
    distribution among the most probable kept conditions; only when no two of them differ
    does "the other causes" (the pooled rest, at the background false-positive rate) stand in.
    """
    table = ctx.table
    n = len(table.condition_ids)
    a = table.planning[ti]
    kept = ctx.prior[:n] > 0
    shown = np.append(np.where(kept, ctx.shown, 0.0), ctx.shown[~kept].sum())
    named = [int(i) for i in np.argsort(-ctx.prior[:n])[:RATIONALE_CANDIDATES] if ctx.prior[i] > 0]

    def best_pair(candidates: Sequence[int]) -> tuple[float, int, int] | None:
        best: tuple[float, int, int] | None = None
        for i in candidates:
            for j in candidates:
                gain = float(ctx.prior[i] * ctx.prior[j] * (a[i] - a[j]))
                if gain > 0 and (best is None or gain > best[0]):
                    best = (gain, i, j)
        return best

    # Name two conditions when the test tells two of them apart; else the leader vs the rest.
    best = best_pair(named) or best_pair([*named, n] if ctx.prior[n] > 0 else named)
    if best is None:
        return ""
    _, hi, lo = best

    def name(i: int) -> str:
        label = "the other causes together" if i == n else _label(ctx, table.condition_ids[i])
        return f"{label} ({_pct(float(shown[i]))})"

    if lo == n:
        return (
            f"Tests for {name(hi)} against the other causes together "
            f"({_pct(float(shown[n]))}): abnormal in about {a[hi]:.0%} with it vs {a[lo]:.0%} "
            "without."
        )
    return (
        f"Separates {name(hi)} from {name(lo)}: abnormal in about {a[hi]:.0%} vs {a[lo]:.0%}."
    )


def _dont_miss_words(ctx: _Context, test: DiagnosticTest) -> str:
    names = []
    for i in ctx.watched:
        cid = ctx.table.condition_ids[i]
        acc = test.detects.get(cid)
        if acc is not None:
            names.append(
                f"{_label(ctx, cid)} ({_pct(float(ctx.shown[i]))}; sensitivity "
                f"{acc.sensitivity:.0%}, specificity {acc.specificity:.0%})"
            )
    return f"Confirms or excludes don't-miss {', '.join(names)}." if names else ""


def _burden_words(test: DiagnosticTest) -> str:
    when = "same day" if test.same_day else f"typically {test.typical_wait_days} days' wait"
    return f"{test.cost_tier.capitalize()} cost, invasiveness {test.invasiveness}, {when}."


def _rationale(ctx: _Context, pick: _Pick) -> str:
    kb = ctx.kb
    test = kb.tests[pick.test_id]
    parts: list[str] = []
    if pick.tier == "immediate":
        cid = pick.reason
        parts.append(
            f"Now: {_label(ctx, cid)} is suspected "
            f"({_pct(float(ctx.shown[ctx.table.condition_index[cid]]))}) and is an emergency; "
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


def _recommendation(ctx: _Context, pick: _Pick) -> TestRecommendation:
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


def _leader(differential: Differential) -> ScoredCondition:
    return max(differential.conditions, key=lambda c: c.probability)


def _safety_net(kb: KnowledgeBase, leader: str) -> str:
    plan = kb.plans.get(leader)
    extra = " ".join(plan.safety_net) if plan is not None else ""
    generic = (
        "If numbness persists at rest, spreads, or weakness, balance or bladder/bowel problems "
        "appear, see a clinician promptly for examination and testing."
    )
    return f"{generic} {extra}".strip()


def _none_needed(kb: KnowledgeBase, differential: Differential, why: str) -> WorkupResult:
    """A single "no test now" entry, with the safety net as the note."""
    leader = _leader(differential)
    test = kb.tests.get(NONE_NEEDED)
    citations = (
        tuple(CitationRef(k, kb.sources[k].title) for k in test.citations) if test else ()
    )
    rationale = (
        f"No test is needed now: {leader.label} ({_pct(leader.probability)}) explains the "
        f"picture and {why}."
    )
    rec = TestRecommendation(
        test_id=NONE_NEEDED,
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
    return WorkupResult(tests=(rec,), note=f"{rationale} {_safety_net(kb, leader.condition_id)}")


def _self_care_without_dont_miss(kb: KnowledgeBase, differential: Differential) -> str | None:
    """Why no test is needed, when triage is self-care and nothing dangerous is open."""
    if differential.triage.level != "self_care" or differential.dont_miss:
        return None
    threshold = kb.triage_policy.dont_miss_threshold
    return (
        f"triage is self-care with no don't-miss condition at or above {_pct(threshold)}"
    )


def _note(ctx: _Context, tests: Sequence[TestRecommendation]) -> str:
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


def recommend_tests(
    kb: KnowledgeBase,
    case: Case,
    differential: Differential,
    *,
    exclude: Iterable[str] = (),
    prefix: str = "",
) -> WorkupResult:
    """The tiered test plan for a differential (``exclude``: tests already resulted)."""
    if not differential.conditions:
        raise InvalidInput(
            [Violation(f"{prefix}differential.conditions", "a ranked differential is required")]
        )
    why = _self_care_without_dont_miss(kb, differential)
    if why is not None:
        return _none_needed(kb, differential, why)
    ctx = _context(kb, case, differential, exclude, prefix)
    picks = _plan(ctx)
    if not picks:
        return _none_needed(
            kb, differential, "no test in the catalogue would change the differential usefully"
        )
    tests = tuple(_recommendation(ctx, p) for p in picks)
    return WorkupResult(tests=tests, note=_note(ctx, tests))


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultInput:
    test_id: str
    outcome: str | None  # "normal" | "abnormal" | None (then value is required)
    value: float | None
    target_condition_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbabilityChange:
    condition_id: str
    before: float
    after: float
    explanation: str


@dataclass(frozen=True, slots=True)
class PostTestResult:
    differential: Differential
    next_tests: tuple[TestRecommendation, ...]
    changes: tuple[ProbabilityChange, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A validated result: its outcome and the conditions whose accuracy figures apply."""

    test: DiagnosticTest
    outcome: str
    value: float | None
    bearing: tuple[str, ...]  # targets when given, else every condition the test detects


MAX_CHANGES = 5
MIN_CHANGE = 0.005


def read_value(test: DiagnosticTest, value: float) -> str:
    """Normal or abnormal, read against the KB threshold (the caller checked plausibility)."""
    threshold = test.value
    assert threshold is not None
    below = threshold.abnormal_below is not None and value < threshold.abnormal_below
    above = threshold.abnormal_above is not None and value > threshold.abnormal_above
    return "abnormal" if below or above else "normal"


def _threshold_words(test: DiagnosticTest) -> str:
    t = test.value
    if t is None:
        return ""
    parts = []
    if t.abnormal_below is not None:
        parts.append(f"below {t.abnormal_below:g}")
    if t.abnormal_above is not None:
        parts.append(f"above {t.abnormal_above:g}")
    return f"abnormal {' or '.join(parts)} {t.unit}".strip()


def _check_value(test: DiagnosticTest, r: ResultInput, field: str) -> list[Violation]:
    assert r.value is not None
    t = test.value
    if t is None:
        return [Violation(field, f"test {test.id!r} has no numeric threshold; give an outcome")]
    if not (math.isfinite(r.value) and t.plausible_min <= r.value <= t.plausible_max):
        return [
            Violation(
                field,
                f"{r.value:g} is outside the plausible range {t.plausible_min:g}-"
                f"{t.plausible_max:g} {t.unit} for {test.label}",
            )
        ]
    if r.outcome is not None and r.outcome != read_value(test, r.value):
        return [
            Violation(
                field,
                f"{r.value:g} {t.unit} reads {read_value(test, r.value)} "
                f"({_threshold_words(test)}), but the outcome says {r.outcome}",
            )
        ]
    return []


def _check_targets(
    kb: KnowledgeBase, test: DiagnosticTest, targets: Sequence[str], field: str
) -> list[Violation]:
    problems = []
    for j, cid in enumerate(targets):
        if cid not in kb.conditions:
            problems.append(Violation(f"{field}[{j}]", f"unknown condition {cid!r}"))
        elif cid not in test.detects:
            problems.append(
                Violation(
                    f"{field}[{j}]",
                    f"{test.label} has no sensitivity/specificity for {cid!r} in the knowledge "
                    f"base; it detects {', '.join(sorted(test.detects))}",
                )
            )
        elif cid in targets[:j]:
            problems.append(Violation(f"{field}[{j}]", f"{cid!r} is listed twice"))
    return problems


def _read_one(
    kb: KnowledgeBase, r: ResultInput, field: str, seen: set[str]
) -> tuple[ReadResult | None, list[Violation]]:
    test = kb.tests.get(r.test_id)
    if test is None:
        return None, [Violation(f"{field}.test_id", f"unknown test {r.test_id!r}")]
    if not test.detects:
        return None, [Violation(f"{field}.test_id", f"{r.test_id!r} has no result to apply")]
    if r.test_id in seen:
        return None, [Violation(f"{field}.test_id", f"{r.test_id!r} is given twice")]
    seen.add(r.test_id)
    problems: list[Violation] = []
    if r.outcome is not None and r.outcome not in OUTCOMES:
        problems.append(Violation(f"{field}.outcome", "must be 'normal' or 'abnormal'"))
    if r.outcome is None and r.value is None:
        problems.append(
            Violation(f"{field}.value", "required when the outcome is unspecified")
        )
    if r.value is not None and not problems:
        problems += _check_value(test, r, f"{field}.value")
    problems += _check_targets(kb, test, r.target_condition_ids, f"{field}.target_condition_ids")
    if problems:
        return None, problems
    outcome = r.outcome if r.outcome is not None else read_value(test, r.value or 0.0)
    bearing = r.target_condition_ids or tuple(test.detects)
    return ReadResult(test, outcome, r.value, bearing), []


def read_results(
    kb: KnowledgeBase, results: Sequence[ResultInput], prefix: str = "results"
) -> list[ReadResult]:
    """Validate every result, reporting all bad fields together."""
    if not results:
        raise InvalidInput([Violation(prefix, "at least one test result is required")])
    problems: list[Violation] = []
    read: list[ReadResult] = []
    seen: set[str] = set()
    for i, r in enumerate(results):
        item, bad = _read_one(kb, r, f"{prefix}[{i}]", seen)
        problems += bad
        if item is not None:
            read.append(item)
    if problems:
        raise InvalidInput(problems)
    return read


def result_likelihood(table: CompiledTests, result: ReadResult) -> Array:
    """``P(this result | c)`` for every condition.

    Abnormal: sensitivity for each condition the result bears on; for every other
    condition the false-positive rate of that finding (1 - mean specificity of the bearing
    conditions).  Normal: the complements (1 - sensitivity; specificity).
    """
    accs = [result.test.detects[c] for c in result.bearing]
    fp = 1.0 - float(np.mean([a.specificity for a in accs]))
    abnormal = np.full(len(table.condition_ids), fp)
    for cid, acc in zip(result.bearing, accs, strict=True):
        abnormal[table.condition_index[cid]] = acc.sensitivity
    if result.outcome == "abnormal":
        return abnormal
    out: Array = 1.0 - abnormal
    return out


def _result_words(r: ReadResult) -> str:
    value = ""
    if r.value is not None and r.test.value is not None:
        value = f" ({r.value:g} {r.test.value.unit}; {_threshold_words(r.test)})"
    return f"{r.test.label} {r.outcome}{value}"


def _likelihood_ratio(lik: Array, prior: Array, ci: int) -> float:
    rest = 1.0 - float(prior[ci])
    if rest <= 0:
        return 1.0
    p_not = (float(lik @ prior) - float(lik[ci] * prior[ci])) / rest
    return float(lik[ci]) / p_not if p_not > 0 else math.inf


def _explain(
    kb: KnowledgeBase,
    cid: str,
    ci: int,
    steps: Sequence[tuple[ReadResult, Array, Array]],
    before: float,
    after: float,
) -> str:
    parts = []
    for r, lik, prior in steps:
        lr = _likelihood_ratio(lik, prior, ci)
        if cid in r.bearing:
            acc = r.test.detects[cid]
            parts.append(
                f"{_result_words(r)}: sensitivity {acc.sensitivity:.0%}, specificity "
                f"{acc.specificity:.0%} for it, so this result is {lr:.2g} times as likely "
                "with it as without"
            )
        else:
            fp = 1.0 - float(np.mean([r.test.detects[c].specificity for c in r.bearing]))
            parts.append(
                f"{_result_words(r)} does not test for it (false-positive rate {fp:.0%}); "
                f"it moved as the conditions the test bears on moved (likelihood ratio {lr:.2g})"
            )
    label = kb.conditions[cid].label
    return f"{label}: {_pct(before)} -> {_pct(after)}. " + "; ".join(parts) + "."


def _summary(
    before: Differential, after: Differential, reads: Sequence[ReadResult],
    changes: Sequence[ProbabilityChange], kb: KnowledgeBase,
) -> str:
    results = "; ".join(_result_words(r) for r in reads)
    lead_after = _leader(after)
    lead_before = _leader(before)
    lead = (
        f"{lead_after.label} still leads ({_pct(lead_before.probability)} -> "
        f"{_pct(lead_after.probability)})"
        if lead_after.condition_id == lead_before.condition_id
        else f"{lead_after.label} now leads ({_pct(lead_after.probability)}), ahead of "
        f"{lead_before.label} (was {_pct(lead_before.probability)})"
    )
    moved = ""
    if changes:
        top = changes[0]
        moved = (
            f" Largest change: {kb.conditions[top.condition_id].label} "
            f"{_pct(top.before)} -> {_pct(top.after)}."
        )
    triage = kb.triage_levels[after.triage.level].label
    return f"After {results}: {lead}.{moved} Triage: {triage}."


def apply_results(
    kb: KnowledgeBase, case: Case, results: Sequence[ResultInput], prefix: str = "results"
) -> PostTestResult:
    """Post-test probabilities: the case's posterior times ``P(result | c)``, renormalized.

    Results are applied one after another (conditionally independent given the condition),
    so the order does not change the outcome, only the explanation's wording.
    """
    reads = read_results(kb, results, prefix)
    table = compiled_tests(kb)
    model = table.model
    prior = posterior(case, model)
    steps: list[tuple[ReadResult, Array, Array]] = []
    probs = prior
    for r in reads:
        lik = result_likelihood(table, r)
        steps.append((r, lik, probs))
        probs = probs * lik
        probs = probs / probs.sum()
    before_diff = differential_from_probabilities(case, prior, model, explain=False)
    after_diff = differential_from_probabilities(case, probs, model)
    delta = np.abs(probs - prior)
    changes = tuple(
        ProbabilityChange(
            condition_id=model.condition_ids[ci],
            before=float(prior[ci]),
            after=float(probs[ci]),
            explanation=_explain(
                kb, model.condition_ids[ci], int(ci), steps, float(prior[ci]), float(probs[ci])
            ),
        )
        for ci in np.argsort(-delta, kind="stable")[:MAX_CHANGES]
        if delta[ci] >= MIN_CHANGE
    )
    resulted = {r.test.id for r in reads}
    next_tests = recommend_tests(kb, case, after_diff, exclude=resulted).tests
    return PostTestResult(
        differential=after_diff,
        next_tests=next_tests,
        changes=changes,
        summary=_summary(before_diff, after_diff, reads, changes, kb),
    )


__all__ = [
    "NONE_NEEDED",
    "PostTestResult",
    "ProbabilityChange",
    "ReadResult",
    "ResultInput",
    "CompiledTests",
    "WorkupResult",
    "apply_results",
    "available_now",
    "background_false_positive",
    "open_emergencies",
    "expected_uncertainty",
    "read_results",
    "recommend_tests",
    "result_likelihood",
    "compiled_tests",
]

"""Which tests, in which tier: the planning distribution and the greedy search.

Split out of ``domain.py`` so the choice of tests is one readable unit: immediate tests for
open emergencies (valued at equipoise, burden = time to a result), then tests added greedily,
each valued *given* the ones already chosen, so a second test that only repeats the first is
worth little and the plan stays short; contraindicated tests the unconstrained plan would
have used are kept, flagged, with what replaced them.  The numbers come from ``value``; the
words about the choice are in ``rationale``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.knowledge.clinical import Case, Differential, Triage
from services.knowledge.loader import KnowledgeBase
from services.platform.errors import InvalidInput, Violation
from services.workup.candidates import allowed_tests, candidate_tests, contraindications_found
from services.workup.precedence import localised_order
from services.workup.ranked import Ranked
from services.workup.value import (
    Array,
    CompiledTests,
    burden,
    compiled_tests,
    equipoise_information,
    expected_uncertainties,
)

TIERS = ("immediate", "first_line", "if_unclear")


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


@dataclass(frozen=True, slots=True)
class Pick:
    test_id: str
    tier: str
    score: float
    information: float
    reason: str = ""  # immediate tier: the emergency it answers
    replaces: tuple[str, ...] = ()  # contraindicated: the tests chosen instead
    stands_in_for: tuple[str, ...] = ()  # chosen instead of these contraindicated tests


@dataclass(frozen=True, slots=True)
class Context:
    kb: KnowledgeBase
    table: CompiledTests
    prior: Array  # the planning distribution [C + 1]: what tests are valued against
    shown: Array  # the differential's own probabilities: what the words quote
    watched: tuple[int, ...]  # don't-miss condition indices
    emergencies: tuple[str, ...]  # emergency conditions needing an immediate test
    flags: frozenset[str]
    exclude: frozenset[str]
    emergency_triage: bool


def _prior(table: CompiledTests, ids: Sequence[str], probabilities: Sequence[float], prefix: str) -> Array:
    """The differential as a probability vector over the KB's conditions (renormalized)."""
    problems: list[Violation] = []
    prior = np.zeros(len(table.condition_ids))
    index = table.condition_index
    for i, (cid, p) in enumerate(zip(ids, probabilities, strict=True)):
        at = index.get(cid)
        if at is not None and 0.0 <= p <= 1.0:  # (NaN fails the comparison)
            prior[at] = p
            continue
        field = f"{prefix}differential.conditions[{i}]"  # named only when it is wrong
        if at is None:
            problems.append(Violation(f"{field}.condition_id", f"unknown condition {cid!r}"))
        else:
            problems.append(Violation(f"{field}.probability", "must be between 0 and 1"))
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
    conditions = differential.conditions
    return emergencies_among(
        kb, [c.condition_id for c in conditions], [c.probability for c in conditions], differential.triage, threshold
    )


def emergencies_among(
    kb: KnowledgeBase, ids: Sequence[str], probabilities: Sequence[float], triage: Triage, threshold: float
) -> tuple[str, ...]:
    """``open_emergencies`` on a differential's columns (its ids and probabilities in order):
    the treatment of a roster reads only these from the message, no condition objects."""
    policy = kb.triage_policy
    flagged = [cid for flag in triage.red_flags for cid in flag.suspect]
    known = kb.conditions
    out: list[str] = []
    for i in sorted(range(len(ids)), key=lambda i: -probabilities[i]):
        cid, p = ids[i], probabilities[i]
        if cid not in known or not known[cid].emergency:
            continue
        if p >= threshold or (cid in flagged and p >= policy.unlikely_floor):
            out.append(cid)
    if not out and triage.level == "emergency":
        probs = dict(zip(ids, probabilities, strict=True))
        suspects = [c for c in flagged if c in known and known[c].emergency]
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


def build_context(
    kb: KnowledgeBase,
    case: Case,
    ranked: Ranked,
    exclude: Iterable[str],
    prefix: str,
) -> Context:
    table = compiled_tests(kb)
    prior = _prior(table, ranked.ids, ranked.probabilities, prefix)
    floor = kb.triage_policy.unlikely_floor
    watched = tuple(
        dict.fromkeys(
            table.condition_index[c.condition_id]
            for c in ranked.dont_miss
            if c.condition_id in table.condition_index and c.probability >= floor
        )
    )
    triage = ranked.triage
    emergency = triage.level == "emergency"
    emergencies = (
        emergencies_among(kb, ranked.ids, ranked.probabilities, triage, kb.triage_policy.dont_miss_threshold)
        if emergency
        else ()
    )
    emergencies = localised_order(
        kb, emergencies, case.present(), [c for flag in triage.red_flags for c in flag.suspect]
    )
    keep = [*watched, *(table.condition_index[c] for c in emergencies)]
    return Context(
        kb=kb,
        table=table,
        prior=planning_distribution(kb, prior, keep),
        shown=prior,
        watched=watched,
        emergencies=emergencies,
        flags=case.patient.flags,
        exclude=frozenset(exclude),
        emergency_triage=emergency,
    )


def immediate_pick(
    ctx: Context, condition_id: str, *, allow_contraindicated: bool
) -> Pick | None:
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
    best: Pick | None = None
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
            best = Pick(tid, "immediate", score, info, reason=condition_id)
    return best


def greedy(ctx: Context, seeded: Sequence[Pick], *, avoid_flags: bool) -> list[Pick]:
    """Add tests one at a time by marginal value (information given the tests before it)."""
    search = Search(ctx, seeded, avoid_flags=avoid_flags)
    while search.wants_more():
        base, each = expected_uncertainties(ctx.table, ctx.prior, search.chosen, ctx.watched, search.candidates)
        search.step(base, each.tolist())
    return search.picks


class Search:
    """One greedy search's state; each round is valued outside (``step`` takes the expected
    uncertainty now and after each test), so a batch can value many searches' rounds in one
    array pass (``batch_search``) and every search still decides exactly as ``greedy``."""

    def __init__(self, ctx: Context, seeded: Sequence[Pick], *, avoid_flags: bool) -> None:
        kb, table = ctx.kb, ctx.table
        self.ctx = ctx
        self.picks = list(seeded)
        self.chosen = [table.test_index[p.test_id] for p in self.picks]
        self.allowed = allowed_tests(kb, table, ctx.exclude, ctx.flags if avoid_flags else frozenset())
        # What a round values (``candidates.candidate_tests``): a test outside it is never the kept
        # pick, so the plan is the one valuing all [T] gives (tests/test_workup_candidates.py).
        self.candidates = [t for t in candidate_tests(table, ctx.prior, self.allowed) if t not in self.chosen]
        self.first_score: float | None = None
        self.first_line = 0
        self.done = False

    def wants_more(self) -> bool:
        """(No candidate left: a round would stop the search, so it is not valued.)"""
        return not self.done and len(self.picks) < MAX_TESTS and bool(self.candidates)

    def step(self, base: float, each: Sequence[float]) -> None:
        """Pick the next test from this round's values (``each``: after each of
        ``self.candidates``, in that order), or stop.  A round has ~3 candidates, so the scores
        are Python floats: the same IEEE subtraction and division as NumPy's, and the first
        maximum (``np.argmax``'s; a NaN, which it would return, stops the search)."""
        ctx, table, tests = self.ctx, self.ctx.table, self.candidates
        burdens = table.burdens
        info = [base - e for e in each]
        score = [i / burdens.item(t) for i, t in zip(info, tests, strict=True)]
        at = max(range(len(score)), key=score.__getitem__)
        if any(map(math.isnan, score)) or not math.isfinite(score[at]) or info[at] < MIN_INFORMATION:
            self.done = True
            return
        if self.first_score is None:
            self.first_score = score[at]
        elif score[at] < IF_UNCLEAR_RELATIVE * self.first_score:
            self.done = True
            return
        worth_first = score[at] >= FIRST_LINE_RELATIVE * self.first_score
        if ctx.emergency_triage or not worth_first or self.first_line >= MAX_FIRST_LINE:
            tier = "if_unclear"
        else:
            tier = "first_line"
            self.first_line += 1
        ti = tests[at]
        self.picks.append(Pick(table.test_ids[ti], tier, score[at], info[at]))
        self.chosen.append(ti)
        del tests[at]


def plan(ctx: Context) -> list[Pick]:
    """Immediate tests for open emergencies, then the greedy plan; contraindicated tests that
    the unconstrained plan would have used are listed after, flagged, with what replaced them.
    """
    safe = greedy(ctx, immediate_picks(ctx, False), avoid_flags=True)
    # No test contraindicated for this patient: the unconstrained plan is the same search
    # with the same inputs, so it is the same plan (and nothing below gets flagged).
    ideal = safe if not needs_unconstrained(ctx) else greedy(ctx, immediate_picks(ctx, True), avoid_flags=False)
    return tiered(ctx, safe, ideal)


def immediate_picks(ctx: Context, allow: bool) -> list[Pick]:
    """One immediate test per open emergency (a test answering two is listed once)."""
    out: list[Pick] = []
    for cid in ctx.emergencies:
        pick = immediate_pick(ctx, cid, allow_contraindicated=allow)
        if pick is not None and pick.test_id not in {p.test_id for p in out}:
            out.append(pick)
    return out


def needs_unconstrained(ctx: Context) -> bool:
    """Whether some test is contraindicated for this patient (else both searches agree)."""
    return not ctx.flags.isdisjoint(ctx.table.contraindicating)


def tiered(ctx: Context, safe: list[Pick], ideal: list[Pick]) -> list[Pick]:
    """The plan in tier order, the contraindicated tests of ``ideal`` flagged beside ``safe``."""
    used = {p.test_id for p in safe}
    flagged: list[Pick] = []
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
            Pick(pick.test_id, pick.tier, pick.score, pick.information, pick.reason, instead)
        )
    if flagged:  # (nothing flagged: every ``stands_in_for`` stays empty, no copy needed)
        safe = [
            replace(
                p,
                stands_in_for=tuple(f.test_id for f in flagged if p.test_id in f.replaces),
            )
            for p in safe
        ]
    if not ctx.emergency_triage:
        safe = leader_confirmation_first(ctx, safe)
    ordered: list[Pick] = []
    for tier in TIERS:
        ordered += [p for p in safe if p.tier == tier]
        ordered += [p for p in flagged if p.tier == tier]
    return ordered


def leader_confirmation_first(ctx: Context, picks: list[Pick]) -> list[Pick]:
    """Outside an emergency, the first test bears on the leading cause.

    The greedy search chooses *which* tests are worth doing, valued over the whole differential;
    its top pick can be a cheap test for a second cause (a B12 level while exertional compartment
    syndrome leads) - but a clinician orders first a test that confirms or refutes the working
    diagnosis.  So when the first planned test does not detect the leader at all, the planned
    test that settles the leader best goes first: the most information about it at equipoise
    (as ``immediate_pick`` values an emergency) per unit of burden.  Only a test already in the plan moves, so
    nothing the value search left out is added; it becomes first line, and if that makes one
    first-line test too many, the last of them becomes "if unclear".  Emergencies keep their
    immediate tests first (``plan``).
    """
    leader = ctx.table.condition_ids[int(np.argmax(ctx.shown))]

    def settles(p: Pick) -> float:
        test = ctx.kb.tests[p.test_id]
        accuracy = test.detects.get(leader)
        if accuracy is None:
            return 0.0
        info = equipoise_information(accuracy.sensitivity, 1.0 - accuracy.specificity)
        return info / burden(test)

    planned = [p for p in picks if p.tier in ("first_line", "if_unclear")]
    if not planned or settles(planned[0]) > 0:
        return picks  # the first planned test already bears on the leader
    candidates = [p for p in planned if settles(p) > 0]
    if not candidates:
        return picks
    best = max(candidates, key=settles)
    rest = [p for p in picks if p is not best]
    first_line = [i for i, p in enumerate(rest) if p.tier == "first_line"]
    if best.tier != "first_line" and len(first_line) >= MAX_FIRST_LINE:
        last = first_line[-1]
        rest[last] = replace(rest[last], tier="if_unclear")
    head = [p for p in rest if p.tier == "immediate"]
    return [*head, replace(best, tier="first_line"), *(p for p in rest if p.tier != "immediate")]

"""A greedy round values only the tests it could choose, and still plans exactly as valuing all.

The search (``selection.Search``) values, each round, only ``candidates.candidate_tests``:
allowed tests that are not constant over the conditions the planning distribution gives mass
to (twelfth pass).  Here the plain search is written out as it was before - every test
valued, ``np.where`` / ``argmax`` over all [T] - and every context (vignettes, roster athletes,
each also with a contraindicating flag and with an excluded test) must get the same plan, pick
for pick, scores and information included, from the one-athlete ``plan`` and the batch
``plan_batch``.  A candidate set that dropped a test able to win a round fails here.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from services.workup import candidates, selection
from services.workup.batch_search import plan_batch
from services.workup.value import expected_uncertainties
from tests.test_batch_search import assert_batch_values_equal_single
from tests.test_workup_memo import varied_contexts


def plain_greedy(ctx: selection.Context, seeded: list[selection.Pick], *, avoid_flags: bool) -> list[selection.Pick]:
    """``selection.greedy`` before the candidates: every test valued, the winner by argmax."""
    table = ctx.table
    allowed = candidates.allowed_tests(ctx.kb, table, ctx.exclude, ctx.flags if avoid_flags else frozenset())
    picks = list(seeded)
    chosen = [table.test_index[p.test_id] for p in picks]
    first_score: float | None = None
    first_line = 0
    while len(picks) < selection.MAX_TESTS:
        base, each = expected_uncertainties(table, ctx.prior, chosen, ctx.watched)
        info = base - each
        score = np.where(allowed, info / table.burdens, -np.inf)
        score[chosen] = -np.inf
        ti = int(np.argmax(score))
        if not np.isfinite(score[ti]) or info[ti] < selection.MIN_INFORMATION:
            break
        if first_score is None:
            first_score = float(score[ti])
        elif score[ti] < selection.IF_UNCLEAR_RELATIVE * first_score:
            break
        worth_first = score[ti] >= selection.FIRST_LINE_RELATIVE * first_score
        if ctx.emergency_triage or not worth_first or first_line >= selection.MAX_FIRST_LINE:
            tier = "if_unclear"
        else:
            tier = "first_line"
            first_line += 1
        picks.append(selection.Pick(table.test_ids[ti], tier, float(score[ti]), float(info[ti])))
        chosen.append(ti)
    return picks


def plain_plan(ctx: selection.Context) -> list[selection.Pick]:
    safe = plain_greedy(ctx, selection.immediate_picks(ctx, False), avoid_flags=True)
    ideal = (
        plain_greedy(ctx, selection.immediate_picks(ctx, True), avoid_flags=False)
        if selection.needs_unconstrained(ctx)
        else safe
    )
    return selection.tiered(ctx, safe, ideal)


def test_plans_valuing_only_candidates_are_the_plain_plans() -> None:
    ctxs = varied_contexts()
    expected = [plain_plan(c) for c in ctxs]
    assert [selection.plan(c) for c in ctxs] == expected
    assert plan_batch(ctxs) == expected
    assert sum(len(p) for p in expected) > len(ctxs)  # the searches really choose tests
    assert any(len(p) >= 3 for p in expected)


def test_a_test_left_out_never_moves_the_planning_distribution() -> None:
    """The premise: each allowed test outside the candidates is worth ~0 in every round (so
    ``MIN_INFORMATION`` stops any round it would win), and each candidate is worth something."""
    left_out = kept = 0
    for ctx in varied_contexts()[::2]:
        table = ctx.table
        search = selection.Search(ctx, selection.immediate_picks(ctx, False), avoid_flags=True)
        chosen = list(search.chosen)
        for _ in range(3):
            base, each = expected_uncertainties(table, ctx.prior, chosen, ctx.watched)
            info = base - each
            for t in np.flatnonzero(search.allowed).tolist():
                if t in chosen:
                    continue
                if t in search.candidates:
                    kept += 1
                else:
                    left_out += 1
                    assert abs(info[t]) < 1e-9, (table.test_ids[t], info[t])
            usable = [t for t in search.candidates if t not in chosen]
            if not usable:
                break
            chosen.append(usable[0])
    assert left_out > 3 * kept > 0  # most tests are left out, and some are valued


def test_candidate_values_are_the_all_test_values_bit_for_bit() -> None:
    assert_batch_values_equal_single(varied_contexts()[:40], seed=7, rounds=4, subsets=True)


def test_candidate_memo_answers_each_table_and_distribution_as_afresh() -> None:
    ctxs = varied_contexts()
    table = ctxs[0].table
    other = dataclasses.replace(table, planning=table.planning[:, ::-1].copy())  # same kb, other numbers
    asks = [(c, t, avoid) for c in ctxs for t in (table, other) for avoid in (True, False)]
    random.Random(11).shuffle(asks)
    seen = set()
    for ctx, tab, avoid in asks:
        allowed = candidates.allowed_tests(ctx.kb, table, ctx.exclude, ctx.flags if avoid else frozenset())
        got = candidates.candidate_tests(tab, ctx.prior, allowed)
        mass = np.flatnonzero(ctx.prior > 0)
        afresh = tuple(
            t for t in range(len(tab.test_ids))
            if allowed[t] and len(set(tab.planning[t, mass].tolist())) > 1
        )
        assert got == afresh
        seen.add(got)
    assert len(seen) > 20

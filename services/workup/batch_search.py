"""The work-up's value-of-information search for a batch of athletes at once (issue 15).

Why its own module: one athlete's greedy round is ~20 small NumPy calls on a [T, 2^k, C]
array, so a roster spends most of the search's time in call overhead.  Here the rounds of
many searches are valued in one array pass.  Every number must be the one ``greedy`` gets
alone, to the last bit (the picks compare scores): so searches share a pass only when their
arrays have the same shape along every summed axis - the same number of tests chosen and the
same watched (don't-miss) conditions - since padding a row would change NumPy's pairwise
sums.  Within a pass each operation is the single-athlete one with a leading batch axis:
elementwise products and quotients are the same IEEE operations, and every sum runs along the
last, contiguous axis of a row of the same length.  ``tests/test_batch_search.py`` compares
every value and every plan with the one-athlete path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from services.workup.selection import (
    Context,
    Pick,
    Search,
    immediate_picks,
    needs_unconstrained,
    tiered,
)
from services.workup.value import (
    DONT_MISS_WEIGHT,
    Array,
    CompiledTests,
    binary_entropy,
    expected_uncertainties,
    uncertainty,
)

GROUP = 16  # searches per array pass: measured best of 8-128 (a [16, T, 2^k, C + 1] pass at k = 4 is ~2 MB)


def plan_batch(contexts: Sequence[Context]) -> list[list[Pick]]:
    """``selection.plan`` for every context, the greedy rounds valued across the batch."""
    safe = [Search(ctx, immediate_picks(ctx, False), avoid_flags=True) for ctx in contexts]
    run_searches(safe)
    ideal = {
        i: Search(ctx, immediate_picks(ctx, True), avoid_flags=False)
        for i, ctx in enumerate(contexts)
        if needs_unconstrained(ctx)
    }
    run_searches(list(ideal.values()))
    return [
        tiered(ctx, s.picks, ideal[i].picks if i in ideal else s.picks)
        for i, (ctx, s) in enumerate(zip(contexts, safe, strict=True))
    ]


def run_searches(searches: Sequence[Search]) -> None:
    """Run every search to its end, one round at a time for all of them."""
    active = [s for s in searches if s.wants_more()]
    while active:
        groups: dict[tuple[int, int, tuple[int, ...]], list[Search]] = defaultdict(list)
        for s in active:
            groups[(id(s.ctx.table), len(s.chosen), s.ctx.watched)].append(s)
        for members in groups.values():
            for start in range(0, len(members), GROUP):
                part = members[start : start + GROUP]
                table, watched = part[0].ctx.table, part[0].ctx.watched
                priors = np.stack([s.ctx.prior for s in part])
                chosen = np.array([s.chosen for s in part], dtype=np.intp).reshape(len(part), -1)
                # each search's candidates, padded with its first to the widest (a test's row is
                # valued on its own, so a padding row changes no other row's bits)
                width = max(len(s.candidates) for s in part)
                tests = np.array(
                    [s.candidates + s.candidates[:1] * (width - len(s.candidates)) for s in part], dtype=np.intp
                )
                bases, each = expected_uncertainties_batch(table, priors, chosen, watched, tests)
                for s, base, values in zip(part, bases, each.tolist(), strict=True):
                    if base is None:  # an impossible joint outcome: valued alone, as greedy does
                        base, alone = expected_uncertainties(table, s.ctx.prior, s.chosen, watched, s.candidates)
                        values = alone.tolist()
                    s.step(base, values[: len(s.candidates)])
        active = [s for s in active if s.wants_more()]


def expected_uncertainties_batch(
    table: CompiledTests,
    priors: Array,
    chosen: npt.NDArray[np.intp],
    watched: Sequence[int],
    tests: npt.NDArray[np.intp] | None = None,
) -> tuple[list[float | None], Array]:
    """``value.expected_uncertainties`` for B searches with k tests chosen each: the base
    uncertainties (None for a search with an impossible joint outcome, which the caller
    values alone) and [B, T] after each test (``tests`` [B, T']: only these, per search)."""
    b = priors.shape[0]
    rows = np.ones((b, 1, table.planning.shape[1]))
    for j in range(chosen.shape[1]):  # value.outcome_likelihoods, per search
        a = table.planning[chosen[:, j]][:, None, :]
        rows = np.concatenate([rows * a, rows * (1.0 - a)], axis=1)
    joint0 = rows * priors[:, None, :]  # [B, O, K]
    p0 = joint0.sum(axis=-1)
    possible = (p0 > 0).all(axis=-1)
    post0 = joint0 / np.where(p0 > 0, p0, 1.0)[..., None]
    base_values = (p0 * uncertainty(post0, watched)).sum(axis=-1).tolist()
    bases: list[float | None] = [v if ok else None for v, ok in zip(base_values, possible.tolist(), strict=True)]
    # [B, T, 2O, K]: the two halves of value.expected_uncertainties' concatenation written in
    # place, then the posterior and the entropy's terms in the same two buffers (``out=``: the
    # same IEEE operations as the expressions, without a fresh multi-MB temporary per step).
    o = joint0.shape[1]
    if tests is None:
        planning, normal = table.planning[None, :, None, :], table.planning_normal[None, :, None, :]
    else:
        planning, normal = table.planning[tests][:, :, None, :], table.planning_normal[tests][:, :, None, :]
    joint = np.empty((b, planning.shape[1], 2 * o, joint0.shape[2]))
    np.multiply(joint0[:, None], planning, out=joint[:, :, :o])
    np.multiply(joint0[:, None], normal, out=joint[:, :, o:])
    p_outcome = joint.sum(axis=-1)
    safe = np.where(p_outcome > 0, p_outcome, 1.0)
    post = np.divide(joint, safe[..., None], out=joint)
    each: Array = (p_outcome * _uncertainty_in_place(post, watched)).sum(axis=-1)
    return bases, each


def _uncertainty_in_place(p: Array, watched: Sequence[int]) -> Array:
    """``value.uncertainty(p, watched)`` with the entropy's [.., K] terms in one scratch buffer."""
    terms = np.where(p > 0, p, 1.0)  # value.entropy: log of the safe values, times p, summed
    np.log(terms, out=terms)
    np.multiply(p, terms, out=terms)
    total: Array = -terms.sum(axis=-1)
    if watched:
        total = total + DONT_MISS_WEIGHT * binary_entropy(p[..., list(watched)]).sum(axis=-1)
    return total

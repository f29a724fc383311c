"""Every sum the ranking forms over a case's findings is exact, so no order can change a bit.

The values a case sums (the likelihood log-ratios, the ranking correction's weights) are
rounded at load to multiples of 2**-32 with their sizes bounded (``model.sum_grid``); then
every partial sum is exact in float64, and a BLAS product of any shape, chunking, kernel or
thread count gives the bits a plain loop gives in any order.  That is what lets a batch use
BLAS products and still give each athlete the bytes the case ranked alone gets (docs/
performance.md, seventh pass), without resting on how OpenBLAS orders its additions.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.ranking import cases as drawn_cases
from services.differential import ranking
from services.differential.batch_scores import COMPACT_SHARE, batch_scores
from services.differential.model import (
    SUM_BOUND,
    SUM_GRID_BITS,
    RankingModel,
    _correction_arrays,
    _summands,
    default_model,
    sum_grid,
)
from services.knowledge.clinical import Case, State

GRID = 2.0**-SUM_GRID_BITS


def loop_sums(mask: np.ndarray, table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The reference: per row, the selected table rows added one by one in a random order."""
    out = np.zeros((mask.shape[0], table.shape[1]))
    for row in range(mask.shape[0]):
        cols = np.flatnonzero(mask[row])
        acc = np.zeros(table.shape[1])
        for col in rng.permutation(cols):
            acc = acc + table[col]
        out[row] = acc
    return out


def products(mask: np.ndarray, table: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The same sums by other routes: BLAS on the whole, in random chunks, transposed, from a
    Fortran-ordered matrix; NumPy's einsum (no BLAS) and its pairwise sums of gathered rows."""
    x = mask.astype(np.float64)
    edges = np.unique(np.r_[0, rng.integers(0, len(x), 6), len(x)])
    return {
        "whole": x @ table,
        "chunks": np.vstack([x[a:b] @ table for a, b in zip(edges[:-1], edges[1:], strict=True)]),
        "one row at a time": np.vstack([x[i:i + 1] @ table for i in range(len(x))]),
        "transposed": (table.T @ x.T).T,
        "fortran": np.asfortranarray(x) @ np.asfortranarray(table),
        "einsum": np.einsum("nf,fc->nc", x, table, optimize=False),
        "gathered": np.vstack([table[np.flatnonzero(r)].sum(axis=0) for r in mask]),
    }


def random_tables(model: RankingModel, seed: int) -> dict[str, np.ndarray]:
    """Tables a refit could produce: log-ratios of arbitrary probabilities, arbitrary weights."""
    rng = np.random.default_rng(seed)
    f, c = len(model.finding_ids), len(model.condition_ids)
    p = rng.uniform(1e-4, 1 - 1e-4, (f, c))
    background = rng.uniform(1e-3, 0.5, (f, 1))
    weights = {
        "correction_present_t": rng.uniform(-3, 3, (f, c)) * (rng.random((f, c)) < 0.4),
        "correction_absent_t": rng.uniform(-3, 3, (f, c)) * (rng.random((f, c)) < 0.4),
    }
    return _summands(model.condition_ids, np.log(p / background), np.log1p(-p) - np.log1p(-background), weights)


def test_the_shipped_tables_are_on_the_grid_within_the_bound_and_a_rounding_away() -> None:
    model = default_model()
    table = model.summands
    assert table is not None
    f, c = len(model.finding_ids), len(model.condition_ids)
    assert table.shape == (2 * f, 2 * c)  # the shipped knowledge base has the ranking correction
    scaled = table / GRID
    assert np.array_equal(scaled, np.rint(scaled))
    assert np.abs(table).sum(axis=0).max() <= SUM_BOUND
    background = np.array([model.kb.findings[fid].background for fid in model.finding_ids])
    exact_p = (np.log(model.p) - np.log(background)).T
    exact_q = (np.log1p(-model.p) - np.log1p(-background)).T
    assert np.abs(model.log_p_t - exact_p).max() <= GRID / 2
    assert np.abs(model.log_q_t - exact_q).max() <= GRID / 2
    assert np.array_equal(table[:f, :c], model.log_p_t) and np.array_equal(table[f:, :c], model.log_q_t)
    assert model.has_correction
    weights = _correction_arrays(model.kb, model.finding_index)
    assert np.abs(table[:f, c:] - weights["correction_present_t"]).max() <= GRID / 2
    assert np.abs(table[f:, c:] - weights["correction_absent_t"]).max() <= GRID / 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_any_order_shape_and_kernel_gives_the_same_bits_on_the_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = default_model()
    shipped = model.summands
    assert shipped is not None
    for table in (shipped, random_tables(model, seed)["summands"]):
        n = int(rng.integers(1, 700))
        mask = rng.random((n, table.shape[0])) < rng.uniform(0.02, 0.6)
        mask[0] = False  # a row with no finding sums to zero
        reference = loop_sums(mask, table, rng)
        assert np.array_equal(loop_sums(mask, table, rng), reference)  # another random order
        for route, got in products(mask, table, rng).items():
            assert np.array_equal(got, reference), route
        assert not reference[0].any()


def test_off_the_grid_the_order_changes_bits_which_is_why_the_grid_is_there() -> None:
    """The check above can fail: the same tables unrounded give other bits in other orders."""
    rng = np.random.default_rng(3)
    model = default_model()
    f, c = len(model.finding_ids), len(model.condition_ids)
    raw = np.vstack([model.log_p_t, model.log_q_t]) + rng.uniform(-GRID, GRID, (2 * f, c))
    mask = rng.random((300, 2 * f)) < 0.15
    first, second = loop_sums(mask, raw, rng), loop_sums(mask, raw, rng)
    assert not np.array_equal(first, second)
    grid = sum_grid(raw, [f"column {i}" for i in range(c)])
    assert np.array_equal(loop_sums(mask, grid, rng), loop_sums(mask, grid, rng))


def test_a_batch_row_is_the_case_alone_in_any_chunking_with_any_valid_tables() -> None:
    """With tables a refit could load (random, then rounded at load), a row in chunks of any
    size - across ``batch_scores``' blocks too - is ``posterior`` of its case, to the bit."""
    base = default_model()
    t = random_tables(base, 9)
    model = dataclasses.replace(
        base, summands=t["summands"], log_p_t=t["log_p_t"], log_q_t=t["log_q_t"]
    )
    assert model.has_correction
    cases = drawn_cases(900, seed=4)
    alone = np.vstack([ranking.posterior(c, model) for c in cases])
    assert not np.array_equal(alone, np.vstack([ranking.posterior(c, base) for c in cases[:900]]))
    rng = np.random.default_rng(5)
    sizes = [1, 2, 3, 17, 250, 600]
    start, rows = 0, []
    while start < len(cases):
        size = sizes[int(rng.integers(len(sizes)))]
        rows.append(ranking.posterior_batch(cases[start:start + size], model))
        start += size
    assert np.array_equal(np.vstack(rows), alone)
    # blocks of 64 rows inside one call: the products' shapes change, the bits do not
    whole = batch_scores(cases, model)
    blocked = batch_scores(cases, model, rows=64)
    for got, want in zip(blocked[:3], whole[:3], strict=True):
        assert got is not None and want is not None
        assert np.array_equal(got, want)
    assert np.array_equal(ranking.posterior_batch(cases, model), alone)


def test_a_table_the_grid_cannot_sum_exactly_is_refused_at_load() -> None:
    names = ["log-likelihood ratios of a", "ranking correction of b"]
    fine = np.array([[1.0, -3.0], [SUM_BOUND - 1.0, 0.5]])
    assert np.array_equal(sum_grid(fine, names), fine)
    too_big = np.array([[1.0, -3.0], [SUM_BOUND - 1.0, 0.5], [1.5, 0.0]])
    with pytest.raises(ValueError, match="log-likelihood ratios of a: .* > 2.09715e\\+06"):
        sum_grid(too_big, names)
    with pytest.raises(ValueError, match="ranking correction of b: a value is not finite"):
        sum_grid(np.array([[0.0, np.inf]]), names)
    with pytest.raises(ValueError, match="ranking correction of b: a value is not finite"):
        sum_grid(np.array([[0.0, 0.0], [1.0, np.nan]]), names)


def test_a_questionnaire_batch_summed_over_its_asked_rows_only_is_the_case_alone() -> None:
    """A roster asks the same few findings of everyone: the product then runs over those rows
    only (``batch_scores.COMPACT_SHARE``); each row is still the case ranked alone."""
    model = default_model()
    rng = np.random.default_rng(8)
    asked = [str(f) for f in rng.choice(model.finding_ids, 12, replace=False)]
    drawn = drawn_cases(300, seed=6)
    cases = [
        Case(c.patient, {f: (State.PRESENT, State.ABSENT, State.UNKNOWN)[int(rng.integers(3))] for f in asked})
        for c in drawn
    ]
    assert 2 * len(asked) <= COMPACT_SHARE * 2 * len(model.finding_ids)  # the compact path
    alone = np.vstack([ranking.posterior(c, model) for c in cases])
    assert np.array_equal(ranking.posterior_batch(cases, model), alone)
    whole = np.vstack([ranking.posterior_batch(drawn, model), ranking.posterior_batch(cases, model)])
    assert np.array_equal(ranking.posterior_batch(drawn + cases, model), whole)  # full rows, mixed

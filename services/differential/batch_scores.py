"""A batch's softmax inputs - the tables' log scores, the corrected ones, the evidence log-LR -
as BLAS products in row blocks, into arrays allocated once (issue 15, docs/performance.md).

Why products are allowed again: every value a case sums is on the sum grid (``model.sum_grid``),
so every sum of them is exact and the order BLAS picks for a product of a given shape (its
kernel, its blocking, the CPU, the threads) cannot change a bit.  A row of a batch of any size
is the case ranked alone (``ranking.posterior``, a NumPy sum of the same rows), which
``tests/test_screening_determinism.py`` and ``tests/test_sum_grid.py`` hold.

Why blocks: ranking 10k cases is a few small products, and a fresh page costs more than the
arithmetic on it (p6rank measured ~3 us a page on this VM); done a block of rows at a time,
the float masks and the products are block-sized buffers allocated once per call and reused,
and only the results are new.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.differential.batch_arrays import Mask, case_parts, hallmark_applies
from services.differential.model import Array, RankingModel, base_listed_lse, with_other_mimic
from services.knowledge.clinical import Case

__all__ = ["BLOCK_ROWS", "BatchScores", "batch_scores", "group_terms", "hallmark_log_factor"]

# Rows per block (a few blocks per 10k batch: each block's buffers stay in the cache's reach,
# and the per-block calls are few).
BLOCK_ROWS = 1024
# When the findings asked anywhere in a batch are at most this share of the table's rows, the
# product is taken over those rows only (a roster asks a questionnaire's findings).
COMPACT_SHARE = 0.75

# (tables' log scores [N, C], corrected log scores [N, C] or None without the ranking
# correction, evidence log-LR [N, C], counted present / absent masks [N, F])
BatchScores = tuple[Array, Array | None, Array, tuple[Mask, Mask]]


def batch_scores(cases: Sequence[Case], model: RankingModel, rows: int = BLOCK_ROWS) -> BatchScores:
    """The softmax inputs of a batch; every returned array is fresh (the caller may turn the
    score arrays into probabilities in place).

    Per block: the counted masks become one 0/1 float [m, 2F] matrix, one product with
    ``model.summands`` [2F, W] gives each row's present + absent sums of the log-ratios and of
    the correction (exact: ``model.sum_grid``); then, in the one-case path's order, the
    correlation groups' terms, the prior rows (computed once per distinct (setting, age, sex):
    ``batch_arrays.base_parts``), the hallmark discount, the "other" leak, the correction.
    """
    (distinct, which), counted, known = case_parts(cases, model)
    table = model.summands
    assert table is not None, "compile_model sets the summands"
    n, c, f = len(cases), len(model.condition_ids), len(model.finding_ids)
    listed = base_listed_lse(model, distinct) if model.other_index >= 0 and model.other_mimic > 0 else None
    log_lr, scores = np.empty((n, c)), np.empty((n, c))
    corrected = np.empty((n, c)) if model.has_correction else None
    present, absent = counted
    asked_p, asked_a = np.flatnonzero(present.any(axis=0)), np.flatnonzero(absent.any(axis=0))
    if asked_p.size + asked_a.size <= COMPACT_SHARE * 2 * f:
        # few findings asked across the batch (a roster's questionnaire, a small chunk): only
        # their rows are summed - the same rows of each case, so the same exact sums
        present, absent = present[:, asked_p], absent[:, asked_a]
        table = table[np.concatenate([asked_p, f + asked_a])]
    k = present.shape[1]
    step = max(1, min(rows, n))
    masks = np.empty((step, table.shape[0]))
    sums = np.empty((step, table.shape[1]))
    for start in range(0, n, step):
        stop = min(start + step, n)
        part, m = slice(start, stop), stop - start
        x = masks[:m]
        x[:, :k] = present[part]
        x[:, k:] = absent[part]
        total = np.matmul(x, table, out=sums[:m])
        lr = log_lr[part]
        lr[...] = total[:, :c]
        group_terms(model, counted[0][part], lr)
        rows_of = which[part]
        base = distinct[rows_of]
        block = np.add(base, lr, out=scores[part])
        block += hallmark_log_factor(model, known[0][part], known[1][part])
        with_other_mimic(model, base, block, None if listed is None else listed[rows_of], overwrite=True)
        if corrected is not None:
            np.add(block, total[:, c:], out=corrected[part])
    return scores, corrected, log_lr, counted


def group_terms(model: RankingModel, present: Mask | Array, log_lr: Array) -> Array:
    """Adds, in place, each correlation group's term to the rows of ``log_lr`` [N, C] whose
    counted ``present`` findings hold two or more of its members: their mean instead of their
    sum (docs/ranking.md), as ``(L + mean) - sum`` group after group, ``ranking.case_terms``'
    order (the sums are exact; the mean is not, so the order is kept)."""
    for group in model.groups:
        cols = list(group)
        mask = present[:, cols] > 0
        rows = np.flatnonzero(mask.sum(axis=1) >= 2)
        if rows.size == 0:
            continue
        lr = model.log_p_t[cols]  # [g, C]
        summed = (mask[rows][:, :, None] * lr[None, :, :]).sum(axis=1)
        log_lr[rows] = log_lr[rows] + summed / mask[rows].sum(axis=1)[:, None] - summed
    return log_lr


def hallmark_log_factor(model: RankingModel, present: Mask | Array, absent: Mask | Array) -> Array:
    """[N, C] log discount for conditions none of whose hallmarks is present and one unknown
    (``present`` / ``absent``: every known finding, 0/1 or masks)."""
    if model.hallmark is None or model.hallmark_count is None or model.hallmark_log_discount is None:
        return np.zeros((present.shape[0], len(model.condition_ids)))
    if present.dtype == np.bool_ and absent.dtype == np.bool_:
        # the same booleans, as bit tests (asarray: no copy of a mask)
        applies = hallmark_applies(model, np.asarray(present, dtype=np.bool_), np.asarray(absent, dtype=np.bool_))
    else:
        hits = present @ model.hallmark
        ruled_out = absent @ model.hallmark
        applies = (model.hallmark_count > 0) & (hits == 0) & (ruled_out < model.hallmark_count)
    out: Array = applies * model.hallmark_log_discount
    return out

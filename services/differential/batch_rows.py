"""The screening batch's differentials as probability rows, without a ``ScoredCondition`` per
condition per athlete (docs/performance.md, fifth pass perf5b): ``rank_batch`` for a roster,
encoded straight to bytes by ``services.wire.encoding.ranked_row_bytes``.

Kept beside ``ranking`` rather than in it: the ranking module is the single-case engine and its
explanations; this is a batch encoding of the same probabilities, order, don't-miss list and
triage (``tests/test_batch_rows.py`` compares the bytes with ``rank_batch``'s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.differential.explain import explain_tables
from services.differential.model import RankingModel, default_model
from services.differential.ranking import _batch_shown, triage_for
from services.knowledge.clinical import Case, Triage
from services.knowledge.red_flags import detect_red_flags

__all__ = ["RankedRow", "rank_batch_rows"]


@dataclass(frozen=True, slots=True)
class RankedRow:
    """One case's unexplained differential by condition index, as ``rank_batch`` would build
    it: ``order`` (most likely first), ``values`` (probability per condition index),
    ``dont_miss`` (indices, in rank order) and the triage.  No ``ScoredCondition`` per
    condition: a screening batch encodes it straight to bytes (``encoding.ranked_row_bytes``),
    where building 35 frozen dataclasses per athlete was the ranking's largest item."""

    order: list[int]
    values: list[float]
    dont_miss: list[int]
    triage: Triage
    statics: tuple[tuple[str, str, tuple[str, ...], str | None, bool, bool, str], ...]
    floor: float


def rank_batch_rows(cases: Sequence[Case], model: RankingModel | None = None) -> list[RankedRow]:
    """``rank_batch(cases, model, explain=False)`` as ``RankedRow``s: the same probabilities,
    order, don't-miss list and triage (``tests/test_batch_rows.py`` compares the bytes)."""
    from services.differential.fit import poor_fit_batch  # fit reads this module's arrays

    model = model or default_model()
    kb = model.kb
    policy = kb.triage_policy
    threshold, floor = policy.dont_miss_threshold, policy.unlikely_floor
    probs, log_lr, counted = _batch_shown(cases, model)
    poor = poor_fit_batch(model, probs, log_lr, counted[0]).tolist()
    # One posterior (round 8): the list, the don't-miss list and triage read the same array.
    statics = explain_tables(model).statics
    ids = [s[0] for s in statics]
    marked = [s[4] or s[5] for s in statics]  # emergency or don't-miss
    # Row-wise stable argsort: the same order as each row's own (ties by index either way).
    orders: list[list[int]] = np.argsort(-probs, axis=1, kind="stable").tolist()
    rows: list[list[float]] = probs.tolist()
    out: list[RankedRow] = []
    for case, order, values, bad in zip(cases, orders, rows, poor, strict=True):
        red_flags = detect_red_flags(kb, case.present())
        flagged = {cid for flag in red_flags for cid in flag.suspect}
        dont_miss = [
            ci for ci in order if (marked[ci] and values[ci] >= threshold) or ids[ci] in flagged
        ]
        shown = {ids[ci]: values[ci] for ci in order}
        triage = triage_for(model, shown, red_flags, bad, present=case.present())
        out.append(RankedRow(order, values, dont_miss, triage, statics, floor))
    return out

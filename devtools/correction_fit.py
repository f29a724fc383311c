"""Core of the case-fitted ranking correction (docs/ranking.md, section 9), shared by the
generator (``devtools/fit_correction.py``) and its cross-validation (``devtools/cv_correction.py``).

Why: the naive-Bayes score counts every finding as independent evidence with a likelihood set
one pair at a time; across 584 spent published cases its leaders are too often a few "sink"
conditions (lumbar radiculopathy, fibular neuropathy, cord injury) while the diagnosis sits
second. A multinomial logistic regression on top of the engine, with the engine's log posterior
as a fixed offset and one weight per (condition, counted finding present / absent), learns
those corrections discriminatively; a strong L2 penalty is the prior toward "no correction".

The offsets it is trained on are **out of fold**: each spent round's cases are scored by the
engine with the case-fitted likelihood layer fitted on the other rounds only, as the shipped
engine will score the next blind round. The weights are therefore what corrects the engine on
cases it was not fitted to, not what undoes the fitted layer's in-sample optimism.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devtools.casefit import FitParams, fit_counts, fitted_pairs, intake_case, prior_table, with_fit
from services.differential.batch_arrays import as_float, case_parts
from services.differential.model import Array, base_listed_lse, compile_model, with_other_mimic
from services.differential.ranking import evidence_log_lr, hallmark_log_factor
from services.knowledge.clinical import Case
from services.knowledge.correction import MAX_WEIGHT
from services.knowledge.fitted import red_flag_ingredients
from services.knowledge.loader import KnowledgeBase
from tests.clinical.realcases import RealCase


@dataclass(frozen=True)
class CorrectionParams:
    """What the cross-validation chose (docs/ranking.md, section 9)."""

    # Round 12: 0.01 -> 0.005, chosen inside every one of the eleven nested leave-one-round-out folds
    # (devtools/cv_capacity.py; docs/knowledge-changes-round12-r12learn.md).
    l2: float = 0.005
    iterations: int = 1500
    learning_rate: float = 0.05
    red_flag_guard: bool = True
    min_weight: float = 0.005
    # Emergency margin (round 10): a training case whose diagnosis is an emergency condition and
    # whose corrected probability of it is below ``emergency_margin`` counts ``1 + emergency_weight``
    # times in the loss (cost-sensitive: a missed emergency costs more than a lost rank; the
    # threshold approach). 0 = the plain log loss of rounds 7-9. Round 11: 0.1 -> 0.7, the smallest
    # weight tried (0.1, 0.3, 0.5, 0.7, 1.1) that passes both held-out gates over the ten spent
    # rounds (tests/test_one_posterior.py): with round 10 spent, 0.1 caught one emergency fewer in
    # round 1 than round 7's engine and cost top-1 + top-3 against the plain fit; 0.7 catches 353 of
    # 377 held out (plain 350), under-triage 36 (39), raised 120 of 512 (117).
    emergency_weight: float = 0.7
    emergency_margin: float = 0.15


@dataclass
class Design:
    """Training rows: the engine's log posterior [N, C] (offset), counted present / absent [N, F], truth [N]."""

    offset: Array
    present: Array
    absent: Array
    truth: np.ndarray

    @staticmethod
    def stack(parts: Sequence[Design]) -> Design:
        return Design(np.vstack([p.offset for p in parts]), np.vstack([p.present for p in parts]),
                      np.vstack([p.absent for p in parts]), np.concatenate([p.truth for p in parts]))


def engine_design(kb: KnowledgeBase, cases: Sequence[RealCase], intake: Sequence[Case]) -> Design:
    """The engine's (``kb``, no correction) log posterior and counted findings of ``cases``."""
    model = compile_model(kb)
    (distinct, which), counted, known = case_parts(list(intake), model)
    base = distinct[which]
    present, absent = as_float(counted)
    scores = base + evidence_log_lr(model, present, absent) + hallmark_log_factor(model, *known)
    scores = with_other_mimic(model, base, scores, base_listed_lse(model, distinct)[which])
    top = scores.max(axis=1, keepdims=True)
    offset = scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
    index = {c: i for i, c in enumerate(kb.condition_ids)}
    truth = np.array([index[c.expected.condition] for c in cases], dtype=np.intp)
    return Design(offset, present, absent, truth)


def fitted_kb(base: KnowledgeBase, train: Sequence[RealCase], prior: Array | None = None,
              fit: FitParams | None = None) -> KnowledgeBase:
    """The knowledge base with the case-fitted likelihood layer fitted on ``train`` (``fit``,
    default: the layer's chosen parameters)."""
    _, counts = fit_counts(base, train)
    return with_fit(base, fitted_pairs(base, counts, fit or FitParams(), prior))


def out_of_fold_design(base: KnowledgeBase, cases: Sequence[RealCase], prior: Array | None = None,
                       fit: FitParams | None = None) -> Design:
    """Every case scored by the engine whose fitted layer was fitted on the other rounds only."""
    prior = prior_table(base) if prior is None else prior
    parts = []
    for r in sorted({c.corpus_round for c in cases}):
        held = [c for c in cases if c.corpus_round == r]
        train = [c for c in cases if c.corpus_round != r]
        parts.append(engine_design(fitted_kb(base, train, prior, fit), held, [intake_case(base, c) for c in held]))
    return Design.stack(parts)


def guard_bounds(kb: KnowledgeBase, params: CorrectionParams) -> tuple[Array, Array]:
    """Lower / upper bounds [2F, C] on the weights: +-MAX_WEIGHT, and with the red-flag guard a
    red-flag finding's weights only point toward its emergencies (present: never lowers an
    emergency nor raises another condition; absent: the mirror)."""
    f, c = len(kb.finding_ids), len(kb.condition_ids)
    lo, hi = np.full((2 * f, c), -MAX_WEIGHT), np.full((2 * f, c), MAX_WEIGHT)
    if params.red_flag_guard:
        guarded = red_flag_ingredients(kb.red_flags)
        emergency = np.array([kb.conditions[cid].emergency for cid in kb.condition_ids])
        for fi, fid in enumerate(kb.finding_ids):
            if fid in guarded:
                lo[fi, emergency] = 0.0
                hi[fi, ~emergency] = 0.0
                hi[f + fi, emergency] = 0.0
                lo[f + fi, ~emergency] = 0.0
    return lo, hi


def emergency_columns(kb: KnowledgeBase) -> npt.NDArray[np.bool_]:
    """[C]: which conditions are emergencies (the emergency margin's cases are theirs)."""
    return np.array([kb.conditions[cid].emergency for cid in kb.condition_ids], dtype=bool)


def fit_weights(kb: KnowledgeBase, design: Design, params: CorrectionParams) -> Array:
    """The correction's weights [2F, C] for ``design``: ``train`` within the guard's bounds, with
    ``kb``'s emergency conditions for the emergency margin (the one call every tool makes)."""
    return train(design, guard_bounds(kb, params), params, emergency_columns(kb))


def train(design: Design, bounds: tuple[Array, Array], params: CorrectionParams,
          emergency: npt.NDArray[np.bool_] | None = None) -> Array:
    """Weights [2F, C] maximizing the held-out-offset multinomial likelihood minus ``l2 * |W|^2``.

    Adam, full batch, a fixed number of steps from zero (deterministic), projected onto the bounds.
    With ``params.emergency_weight`` and ``emergency`` (the emergency columns [C]), a case whose
    diagnosis is an emergency and whose corrected probability of it is below
    ``params.emergency_margin`` at this step weighs ``1 + emergency_weight`` in the loss.
    """
    x = np.hstack([design.present, design.absent])
    n, c = design.offset.shape
    y = np.zeros((n, c))
    rows = np.arange(n)
    y[rows, design.truth] = 1.0
    margin_cases = (np.zeros(n, dtype=bool) if emergency is None or params.emergency_weight <= 0
                    else emergency[design.truth])
    w = np.zeros((x.shape[1], c))
    m, v = np.zeros_like(w), np.zeros_like(w)
    lo, hi = bounds
    for t in range(1, params.iterations + 1):
        z = design.offset + x @ w
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        if margin_cases.any():
            below = margin_cases & (p[rows, design.truth] < params.emergency_margin)
            grad = x.T @ ((p - y) * ((1.0 + params.emergency_weight * below) / n)[:, None]) + 2.0 * params.l2 * w
        else:
            grad = x.T @ ((p - y) / n) + 2.0 * params.l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= params.learning_rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.clip(w, lo, hi, out=w)
    return w


def weight_table(kb: KnowledgeBase, w: Array, params: CorrectionParams) -> dict[str, dict[str, dict[str, float]]]:
    """Weights as the layer's mapping: condition -> present / absent -> finding -> weight (rounded)."""
    f = len(kb.finding_ids)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for ci, cid in enumerate(kb.condition_ids):
        row: dict[str, dict[str, float]] = {}
        for state, block in (("present", w[:f, ci]), ("absent", w[f:, ci])):
            kept = {fid: round(float(x), 3) for fid, x in zip(kb.finding_ids, block, strict=True)
                    if abs(x) >= params.min_weight and round(float(x), 3) != 0.0}
            if kept:
                row[state] = kept
        if row:
            out[cid] = row
    return out

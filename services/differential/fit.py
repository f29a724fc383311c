"""How well the best listed condition explains a case: the honest "none of these fits well".

The measure (docs/ranking.md, numbers in ``evidence_model.yaml: fit``): the log-likelihood
ratio of the counted findings under the best listed condition against the background model
(every finding at the rate it has when no listed condition explains it, which is also the
"other" condition's model), and the share of present findings the leader leaves unexplained
(its P(f | c) no higher than the background).  A poor fit adds the policy's advice (review,
consider causes outside the list, refer for a broader work-up) to the triage reasons, and
never leaves the case at self-care.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.differential.ranking import (
    Array,
    RankingModel,
    case_terms,
    counted_evidence,
)
from services.knowledge.clinical import Case, State

OTHER = "other"  # the vocabulary's catch-all: every finding at its background rate


@dataclass(frozen=True, slots=True)
class Fit:
    best_log_lr: float  # nats, best listed condition vs background
    present: int  # counted present findings
    unexplained: tuple[str, ...]  # present findings the leader does not raise above background
    poor: bool
    other_leads: bool


Mask = npt.NDArray[np.bool_]
_TABLES: dict[int, tuple[RankingModel, tuple[Mask, Mask]]] = {}


def _tables(model: RankingModel) -> tuple[Mask, Mask]:
    """Per model (kept with it, which pins its id): the "listed condition" mask [C] and
    ``P(f | c) > background(f)`` [C, F] ("c explains f")."""
    held = _TABLES.get(id(model))
    if held is not None and held[0] is model:
        return held[1]
    kb = model.kb
    listed = np.array([c != OTHER for c in model.condition_ids])
    background = np.array([kb.findings[f].background for f in model.finding_ids])
    tables: tuple[Mask, Mask] = (listed, model.p > background[None, :])
    if len(_TABLES) < 64:  # bounded: one model in practice
        _TABLES[id(model)] = (model, tables)
    return tables


def assess_fit(model: RankingModel, case: Case, probs: Array, log_lr: Array | None = None) -> Fit:
    """The case's fit; ``log_lr`` is its ``case_terms`` log-likelihood ratio if already known."""
    kb = model.kb
    policy = kb.evidence_model.fit if kb.evidence_model is not None else None
    listed, explains = _tables(model)
    if log_lr is None:
        log_lr, _ = case_terms(model, case)
    best = float(np.max(np.where(listed, log_lr, -np.inf)))
    top = int(np.argmax(probs))
    other_leads = not bool(listed[top])
    leader = top if not other_leads else int(np.argmax(np.where(listed, probs, -1.0)))
    present = [f for f, s in counted_evidence(model, case).items() if s is State.PRESENT]
    row = explains[leader]
    index = model.finding_index
    unexplained = tuple(f for f in present if not row[index[f]])
    poor = other_leads
    if policy is not None and len(present) >= policy.min_present:
        share = len(unexplained) / len(present)
        poor = poor or best < policy.min_log_lr or share > policy.max_unexplained_share
    return Fit(best, len(present), unexplained, poor, other_leads)


def poor_fit_batch(model: RankingModel, probs: Array, log_lr: Array, counted_present: Mask) -> Mask:
    """``assess_fit(...).poor`` for every row at once (the batch ranking, issue 15).

    ``counted_present`` [N, F] is each case's counted present findings (``counted_evidence``);
    the maxima, arg-maxima, counts and the share are the same numbers ``assess_fit`` computes
    per case (``tests/test_batch_arrays.py`` compares them), so the verdicts are identical.
    """
    kb = model.kb
    policy = kb.evidence_model.fit if kb.evidence_model is not None else None
    listed, explains = _tables(model)
    n = probs.shape[0]
    best = np.max(np.where(listed, log_lr, -np.inf), axis=1)
    top = np.argmax(probs, axis=1)
    other_leads = ~listed[top]
    leader = np.where(other_leads, np.argmax(np.where(listed, probs, -1.0), axis=1), top)
    present = counted_present.sum(axis=1)
    unexplained = (counted_present & ~explains[leader]).sum(axis=1)
    poor: Mask = other_leads.copy()
    if policy is not None and n:
        judged = present >= policy.min_present
        share = unexplained / np.maximum(present, 1)
        poor |= judged & ((best < policy.min_log_lr) | (share > policy.max_unexplained_share))
    return poor

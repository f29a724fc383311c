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

from services.common.clinical import Case, State
from services.differential.ranking import (
    Array,
    RankingModel,
    case_terms,
    counted_evidence,
)

OTHER = "other"  # the vocabulary's catch-all: every finding at its background rate


@dataclass(frozen=True, slots=True)
class Fit:
    best_log_lr: float  # nats, best listed condition vs background
    present: int  # counted present findings
    unexplained: tuple[str, ...]  # present findings the leader does not raise above background
    poor: bool
    other_leads: bool


def assess_fit(model: RankingModel, case: Case, probs: Array) -> Fit:
    kb = model.kb
    policy = kb.evidence_model.fit if kb.evidence_model is not None else None
    listed = np.array([c != OTHER for c in model.condition_ids])
    log_lr, _ = case_terms(model, case)
    best = float(np.max(np.where(listed, log_lr, -np.inf)))
    leader = int(np.argmax(np.where(listed, probs, -1.0)))
    other_leads = not bool(listed[int(np.argmax(probs))])
    present = [f for f, s in counted_evidence(model, case).items() if s is State.PRESENT]
    unexplained = tuple(
        f
        for f in present
        if model.p[leader, model.finding_index[f]] <= kb.findings[f].background
    )
    poor = other_leads
    if policy is not None and len(present) >= policy.min_present:
        share = len(unexplained) / len(present)
        poor = poor or best < policy.min_log_lr or share > policy.max_unexplained_share
    return Fit(best, len(present), unexplained, poor, other_leads)

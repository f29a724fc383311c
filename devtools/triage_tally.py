"""Held-out rows re-triaged under candidate thresholds, and the figures a clinician reads.

Why one module: the calibration search (``cv_calibration``: temperature x thresholds) and the
one-posterior search (``cv_posterior``: split vs shown posterior x thresholds) re-triage held-out
rows with the engine's own ``triage_for`` under other thresholds and count the same figures;
written twice, the counting drifted (one tool's Brier summed in Python, the other's in NumPy).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

import services.differential.ranking as ranking
from services.differential.ranking import Array, RankingModel, compile_model
from services.knowledge.clinical import RedFlagHit
from services.knowledge.loader import KnowledgeBase
from tests.clinical.realcases import RealCase, under_triage_steps

_MODELS: dict[int, RankingModel] = {}


@contextmanager
def thresholds_applied(base: KnowledgeBase, emergency: float, dont_miss: float, urgent: float,
                       self_care: float) -> Iterator[RankingModel]:
    """A model whose triage reads these thresholds (``triage.yaml`` policy, ``policy.yaml``
    self-care share); the self-care share is a module setting, restored on exit."""
    policy = base.triage_policy.model_copy(update={
        "emergency_condition_threshold": emergency, "dont_miss_threshold": dont_miss,
        "urgent_condition_threshold": urgent})
    if id(base) not in _MODELS:
        _MODELS[id(base)] = compile_model(base)  # triage reads only its ``kb``
    compiled = _MODELS[id(base)]
    saved = ranking.SELF_CARE_MIN_PROBABILITY
    ranking.SELF_CARE_MIN_PROBABILITY = self_care
    try:
        yield replace(compiled, kb=replace(base, triage_policy=policy))
    finally:
        ranking.SELF_CARE_MIN_PROBABILITY = saved


@dataclass
class Tally:
    """Ranking, triage and Brier counts over re-triaged rows."""

    ids: Sequence[str]
    n: int = 0
    top1: int = 0
    top3: int = 0
    exact: int = 0
    under: int = 0
    under2: int = 0
    emergencies: int = 0
    caught: int = 0
    others: int = 0
    raised: int = 0
    threshold_only: int = 0
    brier: float = 0.0

    def add(self, case: RealCase, shown: Array, level: str, red_flags: Sequence[RedFlagHit]) -> None:
        truth = case.expected.condition
        order = np.argsort(-shown, kind="stable")
        self.n += 1
        self.top1 += self.ids[order[0]] == truth
        self.top3 += truth in [self.ids[i] for i in order[:3]]
        self.exact += level == case.expected.triage
        steps = under_triage_steps(case.expected.triage, level)
        self.under += steps > 0
        self.under2 += steps > 1
        if case.is_emergency:
            self.emergencies += 1
            self.caught += level == "emergency"
        else:
            self.others += 1
            self.raised += level == "emergency"
            self.threshold_only += level == "emergency" and not any(f.level == "emergency" for f in red_flags)
        self.brier += float(((shown - (np.array(self.ids) == truth)) ** 2).sum())

    def figures(self) -> Mapping[str, float]:
        m = max(self.n, 1)
        return {"cases": self.n, "top1": round(self.top1 / m, 4), "top3": round(self.top3 / m, 4),
                "triage_exact": round(self.exact / m, 4), "exact": self.exact, "under_triage": self.under,
                "under_triage_two_levels": self.under2, "emergencies": self.emergencies,
                "emergencies_caught": self.caught,
                "emergency_sensitivity": round(self.caught / max(self.emergencies, 1), 4),
                "others": self.others, "raised": self.raised, "raised_by_threshold_only": self.threshold_only,
                "non_emergencies_raised_to_emergency": round(self.raised / max(self.others, 1), 4),
                "brier": round(self.brier / m, 4)}

"""The joint choice of temperature and triage thresholds (devtools/cv_calibration.py).

Why these tests: the temperature search re-triages held-out probabilities with this tool, so the
tool must triage exactly as the engine does (else the choice was made on a different engine).
Since round 8 the thresholds read the corrected posterior and were re-chosen with
devtools/cv_posterior.py (nested leave-one-round-out, both layers fitted per fold); that choice's
gate is tests/test_one_posterior.py (docs/ranking.md, sections 8-9).
"""

from __future__ import annotations

import numpy as np

from devtools.casefit import intake_case
from devtools.cv_calibration import Setting, evaluate, held_out, tempered
from devtools.cv_likelihoods import score
from services.knowledge.loader import load_knowledge_base
from services.knowledge.policy import clinical_policy
from tests.clinical.realcases import spent_cases


def _file_setting(temperature: float = 1.0) -> Setting:
    policy = load_knowledge_base(fitted=False).triage_policy
    return Setting(temperature, policy.emergency_condition_threshold, policy.dont_miss_threshold,
                   policy.urgent_condition_threshold, clinical_policy().triage.self_care_min_probability.value)


def test_a_temperature_keeps_the_order_and_sums_to_one() -> None:
    p = np.array([0.6, 0.3, 0.08, 0.02])
    hot = tempered(p, 1.4)
    assert hot.sum() == np.float64(1.0) or abs(hot.sum() - 1.0) < 1e-12
    assert list(np.argsort(-hot)) == [0, 1, 2, 3]
    assert hot[0] < p[0] and hot[3] > p[3], "a temperature above 1 flattens: the leader falls, the tail rises"


def test_the_re_triage_is_the_engines_triage() -> None:
    """At temperature 1 and the file's thresholds, the tool's figures are the engine's (no fit)."""
    base = load_knowledge_base(fitted=False)
    cases = spent_cases()
    rows, ids = held_out(base, cases, None, by_round=True)
    tool = evaluate(base, rows, ids, _file_setting())
    by_round = sorted(cases, key=lambda c: c.corpus_round)
    engine = score(base, by_round, [intake_case(base, c) for c in by_round]).figures()
    for name in ("top1", "top3", "triage_exact", "under_triage", "emergency_sensitivity",
                 "non_emergencies_raised_to_emergency", "brier"):
        assert tool[name] == engine[name], name

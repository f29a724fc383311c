"""Round-2 triage and first-test policy (policy.yaml ``triage`` / ``workup``): self-care only when
the self-care causes are more likely than not, and then no test unless a don't-miss cause is open.
"""

from __future__ import annotations

from services.cli.casefile import case_from_json
from services.differential.ranking import default_model, triage_for
from services.knowledge.loader import knowledge_base
from services.knowledge.policy import clinical_policy
from services.pipeline.local import assess_local

MIN = clinical_policy().triage.self_care_min_probability.value


def _probs(footwear: float) -> dict[str, float]:
    rest = 1.0 - footwear
    return {"footwear_compression": footwear, "tarsal_tunnel": rest * 0.6, "mortons_neuroma": rest * 0.4}


def test_a_self_care_leader_short_of_even_odds_is_seen_routinely() -> None:
    triage = triage_for(default_model(), _probs(MIN - 0.08), ())
    assert triage.level == "routine"
    assert any("a clinician should confirm" in r for r in triage.reasons)


def test_a_self_care_picture_more_likely_than_not_stays_self_care() -> None:
    assert triage_for(default_model(), _probs(MIN + 0.1), ()).level == "self_care"


def test_the_self_care_causes_are_counted_together() -> None:
    probs = {"footwear_compression": MIN * 0.7, "anxiety_paresthesia": MIN * 0.4}
    rest = 1.0 - sum(probs.values())
    probs |= {"tarsal_tunnel": rest / 2, "mortons_neuroma": rest / 2}  # each below the leader
    assert triage_for(default_model(), probs, ()).level == "self_care"


def test_a_self_care_picture_needs_no_test_now() -> None:
    """Tight laces, numb shins on both sides: self-care, and the work-up says no test now."""
    case = case_from_json({"patient": {"age": 24, "activity": "ice hockey"}, "evidence": [
        {"id": "hx_tight_lacing", "state": "present"}, {"id": "bilateral", "state": "present"},
        {"id": "loc_leg_below_knee", "state": "present"}, {"id": "hx_new_or_tight_shoes", "state": "present"}]})
    assessment = assess_local(case)
    assert [t.test_id for t in assessment.tests] == [knowledge_base().no_test_id]

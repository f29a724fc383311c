"""Round-2 triage and first-test policy (policy.yaml ``triage`` / ``workup``): self-care only when
the self-care causes are more likely than not, and then no test unless a don't-miss cause is open.
"""

from __future__ import annotations

from services.cli.casefile import case_from_json
from services.cli.render import assessment_json
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


def _assess(*present: str, age: int = 20) -> tuple[str, list[str], str]:
    case = case_from_json({"patient": {"age": age, "activity": "soccer"},
                           "evidence": [{"id": f, "state": "present"} for f in present]})
    a = assessment_json(assess_local(case))
    return a["differential"][0]["condition"], [t["test"] for t in a["tests"]], a["triage"]["level"]


def test_outside_an_emergency_the_first_test_bears_on_the_leading_cause() -> None:
    """Burning feet in heavy drinking: the value search's top pick (a B12 level) does not test the
    leading cause, so the planned test that does goes first and the B12 level stays in the plan."""
    leader, tests, level = _assess("hx_alcohol_excess", "bilateral", "sx_burning", "onset_gradual", age=50)
    assert leader == "alcoholic_neuropathy" and level != "emergency"
    assert leader in knowledge_base().tests[tests[0]].detects
    assert "vitamin_b12" in tests


def test_an_emergency_keeps_its_immediate_test_first() -> None:
    """A sudden isolated foot drop: the stroke pathway's immediate imaging comes before any nerve test."""
    _, tests, level = _assess("onset_sudden", "sx_foot_drop", "unilateral", age=70)
    assert level == "emergency"
    assert tests[0] in ("ct_head", "mri_brain_spine")


def test_an_emergency_no_catalogue_test_answers_sends_to_the_emergency_department_first() -> None:
    """Waxy, blistered toes after cold exposure: deep frostbite is judged on examination, so no
    outpatient test is listed before the emergency department."""
    case = case_from_json({"patient": {"age": 35, "activity": "mountaineering"}, "evidence": [
        {"id": f, "state": "present"}
        for f in ("hx_cold_exposure", "ex_skin_changes_waxy_blisters", "loc_toes", "bilateral", "loc_hands_too")]})
    a = assessment_json(assess_local(case))
    assert a["triage"]["level"] == "emergency"
    assert [t["test"] for t in a["tests"]] == [knowledge_base().no_test_id]
    assert "emergency department" in a["tests"][0]["rationale"]

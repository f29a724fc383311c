"""The three conditions added for issue 10 behave as a clinician would expect.

Common fibular neuropathy, piriformis / deep gluteal syndrome and traumatic nerve injury are
checked through the real intake (implications apply) and ranking: each leads on its own
picture, and the finding that separates it from its mimic (spared ankle inversion versus an
L5 root lesion; the injury history for a traumatic lesion) moves the ranking the right way.
"""

from __future__ import annotations

from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Differential, Patient, State
from services.knowledge.loader import knowledge_base


def assess(*present: str, absent: tuple[str, ...] = (), age: int = 35) -> Differential:
    items = [EvidenceInput(f, State.PRESENT) for f in present]
    items += [EvidenceInput(f, State.ABSENT) for f in absent]
    return rank(normalize(knowledge_base(), Patient(age=age), items).case)


def leader(differential: Differential) -> str:
    return differential.conditions[0].condition_id


FIBULAR = ("loc_lateral_leg", "loc_dorsum_foot", "unilateral", "onset_gradual", "sx_weakness",
           "ex_ankle_eversion_weakness", "hx_leg_crossing_kneeling_or_weight_loss")


def test_a_fibular_picture_with_spared_inversion_leads_with_fibular_neuropathy() -> None:
    differential = assess(*FIBULAR, absent=("ex_ankle_inversion_weakness", "sx_back_pain", "ex_positive_slr"))
    assert leader(differential) == "common_fibular_neuropathy"
    probabilities = differential.probabilities()
    assert probabilities["common_fibular_neuropathy"] > 5 * probabilities["lumbar_radiculopathy"]


def test_weak_inversion_with_back_and_leg_pain_points_to_the_l5_root_instead() -> None:
    differential = assess(
        "loc_lateral_leg", "loc_dorsum_foot", "unilateral", "sx_weakness", "ex_ankle_inversion_weakness",
        "ex_ankle_eversion_weakness", "sx_back_pain", "sx_radiating_leg_pain", "ex_positive_slr",
    )
    assert leader(differential) == "lumbar_radiculopathy"
    fibular = next(c for c in differential.conditions if c.condition_id == "common_fibular_neuropathy")
    assert not fibular.unlikely, "the fibular nerve stays on the list as a possibility, not marked unlikely"


def test_buttock_pain_worse_sitting_with_notch_tenderness_leads_with_piriformis() -> None:
    differential = assess(
        "sx_buttock_pain", "worse_sitting", "ex_piriformis_tenderness", "sx_radiating_leg_pain", "loc_thigh",
        "unilateral", absent=("sx_back_pain", "sx_weakness", "loc_saddle_area"),
    )
    assert leader(differential) == "piriformis_syndrome"
    assert differential.triage.level == "routine"


def test_numbness_after_an_operation_near_the_nerve_leads_with_traumatic_injury() -> None:
    differential = assess(
        "hx_recent_surgery_injection_or_laceration", "onset_sudden", "loc_lateral_foot", "unilateral",
        "constant", "ex_reduced_light_touch_pinprick", absent=("sx_weakness",),
    )
    assert leader(differential) == "traumatic_nerve_injury"
    assert differential.triage.level in {"urgent", "emergency"}


def test_without_any_injury_a_traumatic_cause_stays_unlikely() -> None:
    injuries = ("hx_recent_surgery_injection_or_laceration", "hx_fracture_or_crush_injury",
                "hx_ankle_sprain_or_trauma", "hx_knee_injury_or_surgery", "hx_prolonged_immobilization")
    with_history = assess("loc_lateral_foot", "unilateral", "constant", "hx_fracture_or_crush_injury")
    without = assess("loc_lateral_foot", "unilateral", "constant", absent=injuries)
    p_without = without.probabilities()["traumatic_nerve_injury"]
    assert p_without < 0.10
    assert leader(without) != "traumatic_nerve_injury"
    assert with_history.probabilities()["traumatic_nerve_injury"] > 5 * p_without


def test_the_new_conditions_carry_billable_codes_and_a_plan() -> None:
    kb = knowledge_base()
    for cid in ("common_fibular_neuropathy", "piriformis_syndrome", "traumatic_nerve_injury"):
        assert kb.conditions[cid].icd10cm, cid
        plan = kb.plans[cid]
        assert plan.now and plan.escalation and plan.safety_net, cid

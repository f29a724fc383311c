"""Round-7 triage (r7triage): claudication that began suddenly, or comes with a cold foot in one
leg, is acute limb ischaemia (ESVS 2020, RCEM Learning 2022) - urgent when of gradual onset (Conte
2019); leg pain with a new motor deficit is a compartment syndrome or a threatened limb (Ulmer 2002,
BOAST 10); back pain with the leg giving way is a cord picture (NICE NG234); a gradual numbness after
an old back injury is not the 911 injury sign unless it progresses; and a one-sided sudden foot drop
with a Tinel sign at the fibular head is seen the same day rather than sent to the stroke pathway,
while a bilateral one, or one after a knee injury, stays an emergency. Red flags still win.
"""

from __future__ import annotations

from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base


def assess(*present: str, absent: tuple[str, ...] = (), age: int = 45) -> tuple[set[str], str]:
    items = [EvidenceInput(f, State.PRESENT) for f in present]
    items += [EvidenceInput(f, State.ABSENT) for f in absent]
    normalized = normalize(knowledge_base(), Patient(age=age), items)
    differential = rank(normalized.case)
    return {hit.rule_id for hit in normalized.red_flags}, differential.triage.level


def test_claudication_that_began_suddenly_is_an_acute_occlusion() -> None:
    flags, level = assess("unilateral", "onset_sudden", "sx_claudication", "loc_calf", age=22)
    assert "rf_sudden_claudication" in flags
    assert level == "emergency"


def test_claudication_of_gradual_onset_is_not_the_acute_rule() -> None:
    flags, level = assess("unilateral", "onset_gradual", "sx_claudication", "relieved_by_rest", "loc_calf", age=68)
    assert "rf_sudden_claudication" not in flags
    assert "rf_claudication_cold_foot" not in flags
    assert level != "emergency"


def test_claudication_with_a_cold_foot_in_one_leg_is_limb_ischaemia() -> None:
    flags, level = assess("unilateral", "sx_claudication", "sx_cold_foot", "loc_calf", age=70)
    assert "rf_claudication_cold_foot" in flags
    assert level == "emergency"


def test_gradual_claudication_with_a_cold_foot_is_urgent_not_routine() -> None:
    flags, level = assess("unilateral", "sx_claudication", "sx_cold_foot", "onset_gradual", "loc_calf", age=70)
    assert "rf_claudication_cold_foot" not in flags
    assert "rf_claudication_cold_foot_gradual" in flags
    assert level in ("urgent", "emergency")


def test_cold_digits_with_claudication_in_both_feet_are_not_a_single_occlusion() -> None:
    flags, _ = assess("bilateral", "sx_claudication", "sx_cold_foot", "loc_hands_too", age=30)
    assert "rf_claudication_cold_foot" not in flags
    assert "rf_claudication_cold_foot_gradual" not in flags


def test_leg_pain_with_a_foot_drop_is_a_compartment_syndrome_until_measured() -> None:
    flags, level = assess("sx_leg_pain", "sx_foot_drop", "sx_weakness", age=20)
    assert "rf_leg_pain_with_motor_deficit" in flags
    assert level == "emergency"


def test_radiating_or_exertional_leg_pain_with_weakness_is_not_the_compartment_rule() -> None:
    root, _ = assess("sx_leg_pain", "sx_radiating_leg_pain", "sx_weakness", "sx_back_pain", "unilateral")
    assert "rf_leg_pain_with_motor_deficit" not in root
    exertional, _ = assess("sx_leg_pain", "sx_weakness", "during_running_only", "relieved_by_rest", "unilateral")
    assert "rf_leg_pain_with_motor_deficit" not in exertional
    gradual, _ = assess("sx_leg_pain", "sx_weakness", "onset_gradual", "unilateral", age=60)
    assert "rf_leg_pain_with_motor_deficit" not in gradual


def test_back_pain_with_the_leg_giving_way_is_a_cord_picture() -> None:
    flags, level = assess("sx_back_pain", "sx_leg_gives_way_or_falls", "unilateral", "sx_tingling", age=50)
    assert "rf_back_pain_with_falls" in flags
    assert level == "emergency"


def test_legs_giving_way_that_ease_on_sitting_are_neurogenic_claudication() -> None:
    flags, _ = assess("sx_back_pain", "sx_leg_gives_way_or_falls", "relieved_by_sitting_or_flexion", "bilateral",
                      "onset_gradual", age=72)
    assert "rf_back_pain_with_falls" not in flags


def test_gradual_numbness_after_an_old_back_injury_is_not_the_911_injury_sign() -> None:
    flags, level = assess("hx_back_injury", "sx_radiating_leg_pain", "sx_back_pain", "onset_gradual", "unilateral",
                          "ex_positive_slr", age=17)
    assert "rf_numbness_after_head_back_neck_injury" not in flags
    assert level != "emergency"


def test_numbness_that_progresses_after_an_injury_stays_an_emergency() -> None:
    flags, level = assess("hx_back_injury", "onset_gradual", "progressive", "sx_weakness", "unilateral", age=60)
    assert "rf_numbness_after_injury_progressive" in flags
    assert level == "emergency"
    acute, acute_level = assess("hx_head_neck_injury", "unilateral", "sx_tingling")
    assert "rf_numbness_after_head_back_neck_injury" in acute
    assert acute_level == "emergency"


def test_a_one_sided_sudden_foot_drop_with_a_fibular_head_tinel_sign_is_a_same_day_nerve_palsy() -> None:
    flags, level = assess("onset_sudden", "unilateral", "sx_foot_drop", "sx_weakness", "ex_tinel_fibular_head",
                          "hx_ankle_sprain_or_trauma")
    assert "rf_sudden_weakness" not in flags
    assert "rf_sudden_weakness_explained" in flags
    assert level == "urgent"


def test_a_tinel_sign_after_a_knee_injury_keeps_the_popliteal_artery_emergency() -> None:
    flags, level = assess("onset_sudden", "unilateral", "sx_foot_drop", "sx_weakness", "ex_tinel_fibular_head",
                          "hx_knee_injury_or_surgery")
    assert "rf_sudden_weakness_after_knee_injury" in flags
    assert level == "emergency"


def test_a_sudden_foot_drop_without_a_fibular_head_cause_stays_on_the_stroke_pathway() -> None:
    flags, level = assess("onset_sudden", "unilateral", "sx_foot_drop", "sx_weakness", age=70)
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


def test_a_sudden_bilateral_weakness_stays_an_emergency_whatever_the_peripheral_sign() -> None:
    flags, level = assess("onset_sudden", "bilateral", "sx_weakness", "ex_tinel_fibular_head", age=60)
    assert "rf_sudden_weakness" not in flags
    assert "rf_sudden_bilateral_weakness" in flags
    assert level == "emergency"


def test_sudden_weakness_with_back_pain_stays_an_emergency_with_a_peripheral_sign() -> None:
    flags, level = assess("onset_sudden", "unilateral", "sx_weakness", "sx_back_pain", "ex_tinel_fibular_head", age=65)
    assert "rf_sudden_back_pain_with_numbness" in flags
    assert level == "emergency"


def test_gradual_numbness_after_a_head_or_neck_injury_stays_the_911_sign() -> None:
    flags, level = assess("hx_head_neck_injury", "onset_gradual", "unilateral", "sx_tingling", age=75)
    assert "rf_numbness_after_head_neck_injury_gradual" in flags
    assert level == "emergency"
    back, _ = assess("hx_back_injury", "onset_gradual", "unilateral", "sx_tingling", age=75)
    assert "rf_numbness_after_head_neck_injury_gradual" not in back

"""Round-10 triage rules (r10triage): what a clinician would notice at first contact.

- a deficit that began with a wound (cut, puncture, gunshot) or operation beside the nerve is an emergency,
  and the artery is assessed before the compartment (EAST 2012, AAST-WSES 2020);
- a one-sided face or arm numbness with the leg whose onset is not known to be gradual is the stroke pathway
  (BE-FAST; WAKE-UP treats an unknown onset);
- fever with buttock or leg pain is a deep infection until examined (pyomyositis, septic hip: same day);
- a blue toe on one foot outside a cold exposure is blue toe syndrome (an embolic source: 24-48 hours);
- a sudden foot drop with sensory loss on examination in the fibular territory and no central, root,
  compartment or vascular sign is the isolated fibular palsy seen the same day, not the stroke pathway;
  any such sign keeps the stroke rule.
Each rule is checked on its picture and on a near miss. Red flags still win.
"""

from __future__ import annotations

from tests import triage_support


def assess(*present: str, age: int = 45) -> tuple[set[str], str, list[str]]:
    """Red flags fired, triage level and the work-up's immediate tests in order, as a clinician sees them."""
    flags, level, tests = triage_support.assess(*present, age=age)
    return flags, level, triage_support.immediate_tests(tests)


ARTERIAL = {"arterial_duplex", "ankle_brachial_index"}

# --- a deficit that began with a wound -------------------------------------------------------------


def test_numbness_from_the_moment_of_a_puncture_wound_is_an_emergency_with_the_artery_first() -> None:
    flags, level, immediate = assess("unilateral", "onset_sudden", "hx_recent_surgery_injection_or_laceration", age=15)
    assert "rf_sudden_deficit_after_wound" in flags
    assert level == "emergency"
    assert immediate and immediate[0] in ARTERIAL


def test_a_wound_with_a_fracture_still_images_the_artery_first() -> None:
    _, level, immediate = assess(
        "unilateral", "onset_sudden", "hx_recent_surgery_injection_or_laceration", "hx_fracture_or_crush_injury",
        age=30,
    )
    assert level == "emergency"
    assert immediate[0] in ARTERIAL
    assert "compartment_pressure" in immediate  # the compartment stays an immediate test


def test_a_wound_with_a_compartment_sign_measures_the_compartment_first() -> None:
    _, level, immediate = assess(
        "unilateral", "onset_sudden", "hx_recent_surgery_injection_or_laceration", "ex_tense_compartment",
        "ex_pain_on_passive_stretch", age=30,
    )
    assert level == "emergency"
    assert immediate[0] == "compartment_pressure"


def test_a_numbness_that_crept_in_after_an_operation_is_not_the_wound_emergency() -> None:
    flags, level, _ = assess(
        "unilateral", "onset_gradual", "progressive", "hx_recent_surgery_injection_or_laceration", "loc_sole",
        age=50,
    )
    assert "rf_sudden_deficit_after_wound" not in flags
    assert "rf_numbness_after_surgery_injection_cut_or_cast" in flags
    assert level == "urgent"


# --- one side of the body, onset not known to be gradual -----------------------------------------------


def test_one_sided_hand_mouth_and_foot_tingling_of_unknown_tempo_is_the_stroke_pathway() -> None:
    flags, level, immediate = assess("unilateral", "sx_tingling", "loc_hands_too", "loc_face_or_arm", age=60)
    assert "rf_one_side_face_arm_not_gradual" in flags
    assert level == "emergency"
    assert immediate and immediate[0] in {"ct_head", "mri_brain_spine"}


def test_a_hemibody_numbness_of_unknown_onset_is_an_emergency() -> None:
    flags, level, _ = assess("unilateral", "loc_one_side_of_body", "sx_tingling", age=55)
    assert "rf_one_side_face_arm_not_gradual" in flags
    assert level == "emergency"


def test_a_gradual_one_sided_numbness_stays_urgent() -> None:
    flags, level, _ = assess("unilateral", "loc_one_side_of_body", "onset_gradual", "progressive", age=35)
    assert "rf_one_side_face_arm_not_gradual" not in flags
    assert "rf_one_side_of_body" in flags
    assert level == "urgent"


def test_known_pressure_palsies_explain_an_arm_and_leg_palsy_of_unknown_onset() -> None:
    flags, _, _ = assess("unilateral", "loc_face_or_arm", "sx_weakness", "hx_recurrent_pressure_palsies", age=25)
    assert "rf_one_side_face_arm_not_gradual" not in flags
    sudden, level, _ = assess(
        "unilateral", "loc_face_or_arm", "sx_weakness", "hx_recurrent_pressure_palsies", "onset_sudden", age=25
    )
    assert "rf_sudden_face_arm_numbness" in sudden  # a sudden onset stays on the stroke pathway
    assert level == "emergency"


def test_a_numb_face_or_arm_with_no_side_stated_is_not_the_one_sided_rule() -> None:
    flags, _, _ = assess("loc_face_or_arm", "sx_tingling", "sx_fatigue", age=30)
    assert "rf_one_side_face_arm_not_gradual" not in flags


def test_both_sides_numb_is_not_the_one_sided_rule() -> None:
    flags, _, _ = assess("bilateral", "loc_face_or_arm", "loc_hands_too", "sx_tingling", "sx_anxiety_palpitations")
    assert "rf_one_side_face_arm_not_gradual" not in flags


# --- fever with buttock or leg pain -----------------------------------------------------------------


def test_a_child_with_fever_and_buttock_pain_is_seen_the_same_day() -> None:
    flags, level, _ = assess(
        "sx_fever", "sx_buttock_pain", "sx_leg_pain", "loc_thigh", "unilateral", "progressive",
        "ex_piriformis_tenderness", age=6,
    )
    assert "rf_fever_buttock_or_leg_pain" in flags
    assert level in {"urgent", "emergency"}


def test_buttock_pain_without_fever_is_not_the_infection_rule() -> None:
    flags, _, _ = assess("sx_buttock_pain", "sx_leg_pain", "unilateral", "ex_piriformis_tenderness", age=35)
    assert "rf_fever_buttock_or_leg_pain" not in flags


# --- a blue toe on one foot --------------------------------------------------------------------------


def test_a_blue_toe_on_one_foot_in_an_athlete_is_urgent() -> None:
    flags, level, _ = assess(
        "unilateral", "loc_toes", "sx_pallor_or_cyanosis", "sx_foot_pain", "episodic_color_change", "onset_gradual",
        age=38,
    )
    assert "rf_unilateral_blue_toe" in flags
    assert level in {"urgent", "emergency"}


def test_blue_toes_after_cold_exposure_are_the_cold_rules_not_the_embolic_one() -> None:
    flags, _, _ = assess("unilateral", "loc_toes", "sx_pallor_or_cyanosis", "after_cold_exposure", age=25)
    assert "rf_unilateral_blue_toe" not in flags


def test_blue_toes_on_both_feet_are_not_the_one_foot_rule() -> None:
    flags, _, _ = assess("bilateral", "symmetric", "loc_toes", "sx_pallor_or_cyanosis", "sx_cold_foot", age=25)
    assert "rf_unilateral_blue_toe" not in flags


# --- a sudden foot drop with fibular-territory sensory loss --------------------------------------------

FIBULAR_PALSY = ("unilateral", "onset_sudden", "sx_weakness", "sx_foot_drop", "ex_reduced_light_touch_pinprick",
                 "loc_dorsum_foot", "loc_lateral_leg")


def test_sudden_foot_drop_with_fibular_sensory_loss_is_the_same_day_palsy_not_the_stroke_rule() -> None:
    flags, _, _ = assess(*FIBULAR_PALSY, age=24)
    assert "rf_sudden_weakness" not in flags
    assert "rf_sudden_weakness_fibular_pattern" in flags


def test_a_reflex_change_keeps_the_sudden_foot_drop_on_the_stroke_pathway() -> None:
    flags, level, _ = assess(*FIBULAR_PALSY, "ex_reduced_ankle_reflex", age=24)
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


def test_sensory_loss_outside_the_fibular_territory_keeps_the_stroke_rule() -> None:
    flags, level, _ = assess(
        "unilateral", "onset_sudden", "sx_weakness", "sx_foot_drop", "ex_reduced_light_touch_pinprick",
        "loc_leg_below_knee", age=70,
    )
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


def test_an_isolated_sudden_foot_drop_with_no_localising_sign_stays_on_the_stroke_pathway() -> None:
    flags, level, _ = assess("unilateral", "onset_sudden", "sx_foot_drop", "sx_weakness", age=70)
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


# --- the artery before the spine when the pulses are gone ------------------------------------------------

PARAPLEGIA = ("onset_sudden", "bilateral", "sx_weakness", "sx_leg_gives_way_or_falls", "ex_sensory_level")


def test_a_sudden_paraplegia_with_absent_pulses_images_the_aorta_first() -> None:
    _, level, immediate = assess(*PARAPLEGIA, "ex_diminished_pedal_pulses", age=70)
    assert level == "emergency"
    assert immediate[0] in ARTERIAL
    assert "mri_brain_spine" in immediate  # the cord MRI stays an immediate test


def test_a_sudden_paraplegia_with_pulses_not_recorded_keeps_the_spine_mri_first() -> None:
    _, level, immediate = assess(*PARAPLEGIA, age=70)
    assert level == "emergency"
    assert immediate[0] == "mri_brain_spine"

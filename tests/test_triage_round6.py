"""Round-6 triage (r6triage): fever with back pain in a numb leg is the spinal epidural abscess
triad (Davis 2004, Darouiche 2006); pulses lost after surgery or an injury, or a painful or cold leg
in atrial fibrillation, are acute limb ischaemia by their context (ESVS 2020); dermatomal vesicles
are seen within the antiviral window (Cohen 2013); a smoker's persistently blue toes with
claudication are a threatened limb (Olin 2000, Conte 2019); and a positional claudicant pattern
after an old back injury is not the 911 injury sign (NASS 2011). Red flags still win.
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


def test_fever_with_back_pain_and_a_numb_leg_is_an_epidural_abscess_emergency() -> None:
    flags, level = assess("sx_fever", "sx_back_pain", "unilateral", "loc_thigh", "onset_gradual", age=60)
    assert "rf_fever_back_pain_neuro" in flags
    assert level == "emergency"


def test_back_pain_without_fever_is_not_the_abscess_triad() -> None:
    flags, _ = assess("sx_back_pain", "unilateral", "loc_thigh", "onset_gradual", absent=("sx_fever",), age=60)
    assert "rf_fever_back_pain_neuro" not in flags


def test_pulses_lost_after_surgery_is_acute_limb_ischaemia_without_a_recorded_onset() -> None:
    flags, level = assess("unilateral", "ex_diminished_pedal_pulses", "hx_recent_surgery_injection_or_laceration")
    assert "rf_pulse_loss_after_surgery_or_injury" in flags
    assert level == "emergency"


def test_absent_pulses_without_an_injury_stay_off_the_acute_pathway() -> None:
    flags, _ = assess("unilateral", "ex_diminished_pedal_pulses", "sx_claudication", "onset_gradual", age=70)
    assert "rf_pulse_loss_after_surgery_or_injury" not in flags


def test_a_cold_leg_in_atrial_fibrillation_is_an_embolus_until_the_pulses_are_checked() -> None:
    flags, level = assess("unilateral", "hx_atrial_fibrillation", "sx_cold_foot", age=75)
    assert "rf_af_painful_or_cold_leg" in flags
    assert level == "emergency"
    gradual, _ = assess("unilateral", "hx_atrial_fibrillation", "sx_cold_foot", "onset_gradual", age=75)
    assert "rf_af_painful_or_cold_leg" not in gradual


def test_dermatomal_vesicles_are_seen_within_the_antiviral_window() -> None:
    flags, level = assess("unilateral", "sx_burning", "sx_rash", "ex_dermatomal_vesicles", age=70)
    assert "rf_zoster_eruption" in flags
    assert level in ("urgent", "emergency")


def test_a_smokers_blue_toes_with_claudication_are_urgent_but_raynaud_attacks_are_not() -> None:
    flags, level = assess("hx_smoking", "sx_pallor_or_cyanosis", "sx_claudication", "loc_toes", age=35)
    assert "rf_smoker_digital_ischaemia_claudication" in flags
    assert level in ("urgent", "emergency")
    episodic, _ = assess("hx_smoking", "sx_pallor_or_cyanosis", "sx_claudication", "episodic_color_change", age=35)
    assert "rf_smoker_digital_ischaemia_claudication" not in episodic


def test_positional_claudication_after_an_old_back_injury_is_not_the_injury_sign() -> None:
    picture = ("hx_back_injury", "sx_back_pain", "unilateral", "onset_gradual", "worse_standing_walking_downhill")
    flags, _ = assess(*picture, "relieved_by_sitting_or_flexion", age=50)
    assert "rf_numbness_after_head_back_neck_injury" not in flags
    acute, level = assess("hx_back_injury", "sx_back_pain", "unilateral", age=50)
    assert "rf_numbness_after_head_back_neck_injury" in acute
    assert level == "emergency"


def test_sphincter_change_still_wins_over_the_positional_exception() -> None:
    _, level = assess("hx_back_injury", "relieved_by_sitting_or_flexion", "sx_bladder_bowel_dysfunction", age=50)
    assert level == "emergency"


def test_a_gradual_cold_pulseless_weak_foot_is_urgent_not_the_acute_pathway() -> None:
    picture = ("unilateral", "ex_diminished_pedal_pulses", "sx_cold_foot", "sx_weakness")
    acute, acute_level = assess(*picture, age=70)
    assert "rf_pulse_deficit_with_motor_deficit" in acute
    assert acute_level == "emergency"
    chronic, chronic_level = assess(*picture, "onset_gradual", age=70)
    assert "rf_pulse_deficit_with_motor_deficit" not in chronic
    assert chronic_level in ("urgent", "emergency")

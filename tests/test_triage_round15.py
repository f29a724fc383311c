"""Round-15 triage (r15triage): first-contact decisions a clinician would notice.

* A cold, pale foot with absent pulses is acute limb ischaemia until shown otherwise (ESVS 2020, bjorck20;
  RCEM): the emergency department even when the record does not say how fast it came (a young athlete's
  popliteal entrapment found the day after exercise). A claudication or a stated gradual onset is the
  chronic arterial picture (CONTE 2019): referred urgently, not by this rule.
"""

from __future__ import annotations

from tests.triage_support import assess

COLD_PALE_PULSELESS = ("ex_diminished_pedal_pulses", "sx_cold_foot", "sx_pallor_or_cyanosis", "unilateral")


def test_a_young_persons_cold_pale_pulseless_foot_of_unrecorded_tempo_goes_to_the_emergency_department() -> None:
    flags, level, _ = assess(*COLD_PALE_PULSELESS, "sx_tingling", age=18)
    assert "rf_cold_pale_pulseless_foot_no_chronic_history" in flags
    assert level == "emergency"


def test_an_old_claudicant_with_a_cold_pale_foot_that_came_on_gradually_is_not_sent_by_this_rule() -> None:
    for chronic in (("sx_claudication",), ("onset_gradual",), ("sx_claudication", "onset_gradual")):
        flags, level, _ = assess(*COLD_PALE_PULSELESS, *chronic, "hx_smoking", age=72)
        assert "rf_cold_pale_pulseless_foot_no_chronic_history" not in flags, chronic
    flags, level, _ = assess(*COLD_PALE_PULSELESS, "sx_claudication", "onset_gradual", "hx_smoking", age=72)
    assert level != "emergency"


def test_a_cold_pale_foot_with_pulses_recorded_present_is_not_this_rule() -> None:
    flags, _, _ = assess("sx_cold_foot", "sx_pallor_or_cyanosis", "unilateral", age=30)
    assert "rf_cold_pale_pulseless_foot_no_chronic_history" not in flags


# * Painful swelling of both legs with no stated gradual onset is a rhabdomyolysis or a compartment syndrome
#   until shown otherwise (Malkina 2023: the classic triad is present in under 10%; BOAST 10): creatine kinase
#   and a hospital assessment the same day. Calf pain and swelling only on running, relieved by rest, is chronic
#   exertional compartment syndrome; a gradual bilateral swelling is not this rule.

BOTH_LEGS_PAINFUL_SWELLING = ("bilateral", "sx_leg_pain", "sx_swelling")


def test_two_days_of_worsening_painful_swelling_of_both_calves_goes_to_the_emergency_department() -> None:
    flags, level, _ = assess(*BOTH_LEGS_PAINFUL_SWELLING, "loc_calf", "progressive", age=55)
    assert "rf_painful_swelling_both_legs" in flags
    assert level == "emergency"


def test_calf_pain_and_swelling_only_on_running_relieved_by_rest_is_not_this_rule() -> None:
    flags, level, _ = assess(*BOTH_LEGS_PAINFUL_SWELLING, "during_running_only", "relieved_by_rest",
                             "sx_calf_tightness", age=30)
    assert "rf_painful_swelling_both_legs" not in flags
    assert level != "emergency"


def test_a_gradual_swelling_of_both_legs_is_not_this_rule() -> None:
    flags, _, _ = assess(*BOTH_LEGS_PAINFUL_SWELLING, "onset_gradual", age=70)
    assert "rf_painful_swelling_both_legs" not in flags


def test_one_swollen_painful_leg_is_not_this_rule() -> None:
    flags, _, _ = assess("unilateral", "sx_leg_pain", "sx_swelling", age=40)
    assert "rf_painful_swelling_both_legs" not in flags


# * A numb, swollen limb after a fracture or a crush (or its fixation) is a compartment syndrome until shown
#   otherwise, even when it does not hurt (BOAST 10; Ulmer 2002; McQueen 2000): a nerve block masks the pain.
#   The same fracture without swelling, or a swelling that came on gradually months later, is not this rule.


def test_a_swollen_numb_foot_after_fracture_fixation_goes_to_the_emergency_department() -> None:
    flags, level, _ = assess("hx_fracture_or_crush_injury", "hx_recent_surgery_injection_or_laceration",
                             "sx_swelling", "sx_tingling", "loc_sole", "unilateral", age=49)
    assert "rf_numb_swollen_limb_after_fracture" in flags
    assert level == "emergency"


def test_an_old_fracture_with_a_gradual_swelling_or_no_swelling_is_not_this_rule() -> None:
    gradual, _, _ = assess("hx_fracture_or_crush_injury", "sx_swelling", "sx_tingling", "onset_gradual",
                           "loc_sole", "unilateral", age=49)
    assert "rf_numb_swollen_limb_after_fracture" not in gradual
    dry, _, _ = assess("hx_fracture_or_crush_injury", "sx_tingling", "loc_sole", "unilateral", age=49)
    assert "rf_numb_swollen_limb_after_fracture" not in dry

"""Round-18 triage (r18triage): first-contact decisions a clinician would notice.

* A claudicant whose foot pain has become constant, with weak foot pulses, has rest pain: chronic limb-threatening
  ischaemia, referred urgently to a vascular specialist (Global Vascular Guidelines 2019). The same claudicant
  whose pain still eases with rest is a routine appointment.
* Reflexes absent in both legs with burning feet and hands, during chemotherapy, are seen within 24-48 hours: a
  Guillain-Barre variant can start without weakness (EAN/PNS 2023), and the next dose may have to change (ASCO 2020).
  Without the examination finding, or with high arches, hammer toes and a family history (a hereditary neuropathy),
  the same burning is routine.
* Unintended weight loss with burning soles in a diabetic is urgent (cancer, a deficiency or uncontrolled glucose
  until blood tests say otherwise; Nicholson 2018, NICE NG12); the same burning soles without it are routine.
* Both legs persistently pale or blue, with leg weakness, are an aortic occlusion until imaged (ESVS 2020; Babu 1995)
  and go to the emergency department even after months of wasting; cold-triggered episodic colour change of both
  feet (Raynaud's) with the same weakness is not raised.
"""

from __future__ import annotations

from tests.triage_support import assess

CLAUDICANT = ("unilateral", "sx_claudication", "relieved_by_rest", "sx_foot_pain", "ex_diminished_pedal_pulses",
              "hx_smoking")
BURNING_HANDS_AND_FEET_ON_CHEMOTHERAPY = ("bilateral", "sx_burning", "loc_hands_too", "hx_chemotherapy",
                                          "onset_gradual")
DIABETIC_BURNING_SOLES = ("bilateral", "sx_burning", "loc_sole", "hx_diabetes", "onset_gradual", "progressive")
SMOKER_WASTED_WEAK_LEGS = ("bilateral", "sx_weakness", "sx_muscle_atrophy", "onset_gradual", "hx_smoking")


def test_a_claudicant_with_constant_foot_pain_and_weak_pulses_is_referred_urgently() -> None:
    flags, level, _ = assess(*CLAUDICANT, "constant", age=68)
    assert "rf_rest_pain_with_pulse_deficit" in flags
    assert level == "urgent"


def test_a_claudicant_whose_pain_eases_with_rest_stays_routine() -> None:
    flags, level, _ = assess(*CLAUDICANT, age=68)
    assert "rf_rest_pain_with_pulse_deficit" not in flags
    assert level == "routine"


def test_absent_reflexes_in_both_legs_on_chemotherapy_are_seen_within_two_days() -> None:
    flags, level, _ = assess(*BURNING_HANDS_AND_FEET_ON_CHEMOTHERAPY, "ex_absent_reflexes", age=60)
    assert "rf_bilateral_areflexia" in flags
    assert level == "urgent"


def test_the_same_burning_without_areflexia_or_with_a_hereditary_picture_stays_routine() -> None:
    flags, level, _ = assess(*BURNING_HANDS_AND_FEET_ON_CHEMOTHERAPY, age=60)
    assert "rf_bilateral_areflexia" not in flags
    assert level == "routine"
    flags, level, _ = assess("bilateral", "sx_tingling", "ex_absent_reflexes", "ex_high_arches_hammer_toes",
                             "hx_family_history_neuropathy", "onset_gradual", age=25)
    assert "rf_bilateral_areflexia" not in flags
    assert level == "routine"


def test_unintended_weight_loss_with_burning_soles_is_urgent_and_without_it_routine() -> None:
    flags, level, _ = assess(*DIABETIC_BURNING_SOLES, "sx_weight_loss", age=50)
    assert "rf_unintended_weight_loss_with_neuropathy" in flags
    assert level == "urgent"
    flags, level, _ = assess(*DIABETIC_BURNING_SOLES, age=50)
    assert "rf_unintended_weight_loss_with_neuropathy" not in flags
    assert level == "routine"


def test_both_legs_blue_and_weak_go_to_the_emergency_department_even_after_months_of_wasting() -> None:
    flags, level, _ = assess(*SMOKER_WASTED_WEAK_LEGS, "sx_pallor_or_cyanosis", age=49)
    assert "rf_bilateral_cyanosis_with_leg_weakness" in flags
    assert level == "emergency"


def test_cold_triggered_episodic_colour_change_of_both_feet_with_weakness_is_not_raised() -> None:
    flags, level, _ = assess("bilateral", "sx_pallor_or_cyanosis", "episodic_color_change", "after_cold_exposure",
                             "sx_weakness", "sx_tingling", age=30)
    assert "rf_bilateral_cyanosis_with_leg_weakness" not in flags
    assert level != "emergency"

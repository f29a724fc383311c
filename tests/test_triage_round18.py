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

import pytest

from tests.triage_support import rule_table_tests

CLAUDICANT = ("unilateral", "sx_claudication", "relieved_by_rest", "sx_foot_pain", "ex_diminished_pedal_pulses",
              "hx_smoking")
BURNING_HANDS_AND_FEET_ON_CHEMOTHERAPY = ("bilateral", "sx_burning", "loc_hands_too", "hx_chemotherapy",
                                          "onset_gradual")
DIABETIC_BURNING_SOLES = ("bilateral", "sx_burning", "loc_sole", "hx_diabetes", "onset_gradual", "progressive")
SMOKER_WASTED_WEAK_LEGS = ("bilateral", "sx_weakness", "sx_muscle_atrophy", "onset_gradual", "hx_smoking")


# (picture, age, the rule, the level): each rule's picture is raised to the rule's level ...
RAISED = [
    pytest.param((*CLAUDICANT, "constant"), 68, "rf_rest_pain_with_pulse_deficit", "urgent",
                 id="claudicant-with-constant-foot-pain-and-weak-pulses-referred-urgently"),
    pytest.param((*BURNING_HANDS_AND_FEET_ON_CHEMOTHERAPY, "ex_absent_reflexes"), 60, "rf_bilateral_areflexia",
                 "urgent", id="absent-reflexes-in-both-legs-on-chemotherapy-seen-within-two-days"),
    pytest.param((*DIABETIC_BURNING_SOLES, "sx_weight_loss"), 50, "rf_unintended_weight_loss_with_neuropathy",
                 "urgent", id="unintended-weight-loss-with-burning-soles-urgent"),
    pytest.param((*SMOKER_WASTED_WEAK_LEGS, "sx_pallor_or_cyanosis"), 49, "rf_bilateral_cyanosis_with_leg_weakness",
                 "emergency", id="both-legs-blue-and-weak-emergency-even-after-months-of-wasting"),
]
# ... and its look-alike does not fire it (the level it gets instead, None: anything but an emergency).
NOT_RAISED = [
    pytest.param(CLAUDICANT, 68, "rf_rest_pain_with_pulse_deficit", "routine",
                 id="claudicant-whose-pain-eases-with-rest-stays-routine"),
    pytest.param(BURNING_HANDS_AND_FEET_ON_CHEMOTHERAPY, 60, "rf_bilateral_areflexia", "routine",
                 id="the-same-burning-without-areflexia-stays-routine"),
    pytest.param(("bilateral", "sx_tingling", "ex_absent_reflexes", "ex_high_arches_hammer_toes",
                  "hx_family_history_neuropathy", "onset_gradual"), 25, "rf_bilateral_areflexia", "routine",
                 id="areflexia-in-a-hereditary-picture-stays-routine"),
    pytest.param(DIABETIC_BURNING_SOLES, 50, "rf_unintended_weight_loss_with_neuropathy", "routine",
                 id="burning-soles-without-weight-loss-stay-routine"),
    pytest.param(("bilateral", "sx_pallor_or_cyanosis", "episodic_color_change", "after_cold_exposure",
                  "sx_weakness", "sx_tingling"), 30, "rf_bilateral_cyanosis_with_leg_weakness", None,
                 id="cold-triggered-episodic-colour-change-with-weakness-not-an-emergency"),
]


test_the_rules_picture_is_raised_to_its_level, test_the_look_alike_is_not_raised = rule_table_tests(
    RAISED, NOT_RAISED
)

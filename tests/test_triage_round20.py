"""Round-20 triage (r20triage): first-contact decisions a clinician would notice.

* Fingertips and toes dying off together (fixed blue, necrotic digits in the hands and a foot) are critical digital
  ischaemia of a systemic cause - systemic sclerosis, a vasculitis, emboli - and go to hospital the same day (BSR/BHPR
  2016; UK Scleroderma Study Group pathway 2015), even when the record says the necrosis came on over days.
* The same necrotic toes without the hands (a smoker's gradual toe gangrene) stay an urgent vascular referral, and
  blue fingers and toes without necrosis (Raynaud's) are not raised.
"""

from __future__ import annotations

import pytest

from tests.triage_support import rule_table_tests

FEVERISH_BLUE_DYING_DIGITS = ("unilateral", "loc_toes", "sx_pallor_or_cyanosis", "sx_tingling", "sx_foot_pain",
                              "sx_fever", "progressive", "ex_digit_necrosis")
SMOKERS_GRADUAL_TOE_GANGRENE = ("unilateral", "loc_toes", "sx_foot_pain", "hx_smoking", "onset_gradual",
                                "progressive", "ex_digit_necrosis")


# (picture, age, the rule, the level): each rule's picture is raised to the rule's level ...
RAISED = [
    pytest.param((*FEVERISH_BLUE_DYING_DIGITS, "loc_hands_too"), 33, "rf_digit_necrosis_hands_and_feet", "emergency",
                 id="necrotic-fingers-and-toes-together-over-days-emergency"),
    pytest.param((*SMOKERS_GRADUAL_TOE_GANGRENE, "loc_hands_too"), 45, "rf_digit_necrosis_hands_and_feet",
                 "emergency", id="gradual-gangrene-of-fingers-and-toes-still-emergency"),
]
# ... and its look-alike does not fire it (the level it gets instead, None: anything but an emergency).
NOT_RAISED = [
    pytest.param(SMOKERS_GRADUAL_TOE_GANGRENE, 45, "rf_digit_necrosis_hands_and_feet", "urgent",
                 id="gradual-toe-gangrene-without-the-hands-stays-urgent"),
    pytest.param(("bilateral", "loc_toes", "loc_hands_too", "sx_pallor_or_cyanosis", "episodic_color_change",
                  "after_cold_exposure", "sx_tingling"), 33, "rf_digit_necrosis_hands_and_feet", None,
                 id="blue-fingers-and-toes-without-necrosis-not-an-emergency"),
]


test_the_rules_picture_is_raised_to_its_level, test_the_look_alike_is_not_raised = rule_table_tests(
    RAISED, NOT_RAISED
)

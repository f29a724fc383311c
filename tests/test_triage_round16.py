"""Round-16 triage (r16triage): first-contact decisions a clinician would notice.

* Numbness with back pain that came on suddenly is a spinal epidural haematoma, a cord infarction or an aortic
  dissection until imaged (fedor11, zalewski19): the emergency department. Sudden back pain with a sciatic
  pattern is the acute disc: the rule already excepted radiating leg pain, and a positive straight-leg raise is
  the examination form of the same pattern (nerve-root tension, pooled sensitivity 0.92 for a herniated disc,
  Cochrane, vdw10), which NICE NG59 assesses in primary care. It is seen the same day (urgent), not sent in as
  an emergency, unless a cauda equina sign is there too: a sphincter or saddle change, or a weakness of both
  legs, which still send it to the emergency department by their own rules.
"""

from __future__ import annotations

from tests.triage_support import assess

SUDDEN_BACK_PAIN_WITH_NUMB_LEG = ("onset_sudden", "sx_back_pain", "sx_tingling")
SCIATIC_SIGNS = ("ex_positive_slr", "ex_reduced_light_touch_pinprick", "loc_lateral_leg")


def test_sudden_back_pain_with_a_numb_leg_and_no_sciatic_sign_goes_to_the_emergency_department() -> None:
    flags, level, _ = assess(*SUDDEN_BACK_PAIN_WITH_NUMB_LEG, "unilateral", age=30)
    assert "rf_sudden_back_pain_with_numbness" in flags
    assert level == "emergency"


def test_the_acute_disc_with_a_positive_straight_leg_raise_is_seen_the_same_day_not_sent_as_an_emergency() -> None:
    flags, level, _ = assess(*SUDDEN_BACK_PAIN_WITH_NUMB_LEG, *SCIATIC_SIGNS, "unilateral", age=30)
    assert "rf_sudden_back_pain_with_numbness" not in flags
    assert level == "urgent"


def test_the_acute_disc_with_a_cauda_equina_sign_still_goes_to_the_emergency_department() -> None:
    for cauda_equina_sign in (("unilateral", "sx_bladder_bowel_dysfunction"), ("unilateral", "loc_saddle_area"),
                              ("bilateral", "sx_weakness")):
        flags, level, _ = assess(*SUDDEN_BACK_PAIN_WITH_NUMB_LEG, *SCIATIC_SIGNS, *cauda_equina_sign, age=30)
        assert "rf_sudden_back_pain_with_numbness" not in flags, cauda_equina_sign
        assert level == "emergency", cauda_equina_sign

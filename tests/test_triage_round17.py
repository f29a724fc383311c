"""Round-17 triage (r17triage): first-contact decisions a clinician would notice.

* A weakness of both legs that is still getting worse, with absent reflexes, is Guillain-Barre until proven
  otherwise (the Brighton criteria's core: bilateral flaccid weakness with decreased or absent reflexes, Fokke 2014;
  Leonhard 2019 and the EAN/PNS guideline: admit and monitor breathing). It goes to the emergency department even
  when it began gradually and its calf pain on walking looks like claudication (a published patient was twice sent
  home so, over a month).
* The chronic picture - the same weakness with high arches, hammer toes and a family history (a hereditary
  neuropathy), or with wasting - is seen the same day, not sent in as an emergency; so is a stable weakness with
  absent reflexes that is not progressing.
"""

from __future__ import annotations

from tests.triage_support import assess

RULE = "rf_progressive_bilateral_areflexic_weakness"
PROGRESSIVE_LEG_WEAKNESS_NO_REFLEXES = ("bilateral", "sx_weakness", "ex_absent_reflexes", "progressive")
CLAUDICATION_LOOKALIKE = ("onset_gradual", "sx_claudication", "relieved_by_rest", "sx_tingling")


def test_gbs_over_a_month_that_looks_like_claudication_goes_to_the_emergency_department() -> None:
    flags, level, _ = assess(*PROGRESSIVE_LEG_WEAKNESS_NO_REFLEXES, *CLAUDICATION_LOOKALIKE, age=60)
    assert RULE in flags
    assert level == "emergency"


def test_a_hereditary_neuropathy_or_a_wasted_chronic_picture_is_seen_the_same_day_not_as_an_emergency() -> None:
    for chronic_signs in (("ex_high_arches_hammer_toes", "hx_family_history_neuropathy"), ("sx_muscle_atrophy",)):
        flags, level, _ = assess(*PROGRESSIVE_LEG_WEAKNESS_NO_REFLEXES, *CLAUDICATION_LOOKALIKE, *chronic_signs,
                                 age=25)
        assert RULE not in flags, chronic_signs
        assert level == "urgent", chronic_signs


def test_a_stable_gradual_weakness_with_absent_reflexes_is_not_raised_by_the_rule() -> None:
    flags, level, _ = assess("bilateral", "sx_weakness", "ex_absent_reflexes", "onset_gradual", "sx_tingling",
                             "hx_diabetes", age=60)
    assert RULE not in flags
    assert level == "urgent"

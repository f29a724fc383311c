"""Round-18 over-triage (r18over): chronic look-alikes of an emergency are seen the same day, not sent to
the emergency department, while the acute picture still is.

Each narrowing follows the emergency's published pathway (docs/knowledge-changes-round18-r18over.md):
* the cauda equina weakness rule reads a deficit that is new, progressing or severe (BMJ Best Practice:
  recent onset < 14 days or deterioration; NHS Lothian: severe or progressive): a stable, long-standing
  weakness of both legs with back pain is seen the same day;
* bilateral sciatica is the cauda equina red flag when sudden or progressing (NHS Lothian: sudden, or
  one-sided pain that has spread to both legs), not a long-standing, stable one;
* claudication with a cold foot in a wasted leg is chronic limb-threatening ischaemia (ESVS 2020: acute
  limb ischaemia is < 2 weeks; Conte 2019: urgent vascular assessment);
* Guillain-Barre syndrome needs absent or reduced reflexes and reaches its nadir within 4 weeks (Asbury
  1990; Fokke 2014): brisk reflexes / Babinski, a sensory level or wasting make its runner-up share
  "cannot be excluded, see the same day".
"""

from __future__ import annotations

import pytest

from services.cli.casefile import case_from_json
from services.cli.render import assessment_json
from services.differential.ranking import default_model, triage_for
from services.pipeline.local import assess_local

GBS_RUNNER_UP = {"b12_deficiency_neuropathy": 0.6, "guillain_barre": 0.25, "other": 0.15}
WEAK_BOTH_LEGS = {"bilateral", "progressive", "sx_weakness"}


def _assess(present: list[str], age: int = 55) -> dict[str, object]:
    case = {"patient": {"activity": "", "age": age}, "evidence": [{"id": f, "state": "present"} for f in present]}
    return assessment_json(assess_local(case_from_json(case)))


def _level_and_rules(present: list[str]) -> tuple[str, set[str]]:
    triage = _assess(present)["triage"]
    assert isinstance(triage, dict)
    return str(triage["level"]), {flag["rule"] for flag in triage["red_flags"]}


def test_a_stable_long_standing_weakness_of_both_legs_with_back_pain_is_not_cauda_equina() -> None:
    level, rules = _level_and_rules(["bilateral", "onset_gradual", "sx_back_pain", "sx_weakness", "symmetric",
                                     "hx_autoimmune_lupus", "sx_rash"])
    assert "rf_ces_progressive_or_bilateral_deficit" not in rules
    assert level != "emergency"


@pytest.mark.parametrize("course", [["onset_gradual", "progressive"], ["onset_gradual", "sx_unable_to_walk"],
                                    ["onset_sudden"], []])
def test_weakness_of_both_legs_with_back_pain_that_is_new_progressing_or_stops_walking_stays_cauda_equina(
    course: list[str],
) -> None:
    level, rules = _level_and_rules(["bilateral", "sx_back_pain", "sx_weakness", *course])
    assert "rf_ces_progressive_or_bilateral_deficit" in rules
    assert level == "emergency"


def test_a_progressive_one_sided_weakness_with_back_pain_stays_cauda_equina() -> None:
    """GIRFT 2023: a progressive deficit with back pain or sciatica is suspected CES, one-sided or not."""
    level, rules = _level_and_rules(["unilateral", "onset_gradual", "progressive", "sx_back_pain", "sx_weakness"])
    assert "rf_ces_progressive_or_bilateral_deficit" in rules
    assert level == "emergency"


def test_a_long_standing_stable_sciatica_in_both_legs_is_not_sent_to_the_emergency_department() -> None:
    level, rules = _level_and_rules(["bilateral", "onset_gradual", "sx_back_pain", "sx_radiating_leg_pain"])
    assert "rf_bilateral_sciatica" not in rules
    assert level != "emergency"


@pytest.mark.parametrize("course", [[], ["progressive"], ["onset_gradual", "progressive"]])
def test_bilateral_sciatica_that_is_new_or_progressing_stays_an_emergency(course: list[str]) -> None:
    level, rules = _level_and_rules(["bilateral", "sx_back_pain", "sx_radiating_leg_pain", *course])
    assert "rf_bilateral_sciatica" in rules
    assert level == "emergency"


CHRONIC_LEG = ["unilateral", "sx_claudication", "sx_cold_foot", "progressive", "ex_diminished_pedal_pulses",
               "hx_smoking", "hx_diabetes"]


def test_claudication_with_a_cold_foot_in_a_wasted_leg_is_seen_the_same_day() -> None:
    result = _assess([*CHRONIC_LEG, "sx_muscle_atrophy"])
    triage = result["triage"]
    assert isinstance(triage, dict)
    assert triage["level"] == "urgent"
    assert not any(flag["rule"] == "rf_claudication_cold_foot" for flag in triage["red_flags"])
    assert any(r.startswith("Acute limb ischaemia cannot be excluded") and "muscle wasting" in r
               for r in triage["reasons"]), triage["reasons"]


def test_the_same_leg_without_wasting_is_still_an_emergency() -> None:
    level, rules = _level_and_rules(CHRONIC_LEG)
    assert level == "emergency"
    assert "rf_claudication_cold_foot" in rules


@pytest.mark.parametrize("against", ["ex_hyperreflexia_or_babinski", "ex_sensory_level", "sx_muscle_atrophy"])
def test_a_guillain_barre_runner_up_with_a_sign_its_criteria_exclude_is_seen_the_same_day(against: str) -> None:
    triage = triage_for(default_model(), GBS_RUNNER_UP, (), present=WEAK_BOTH_LEGS | {against})
    assert triage.level == "urgent"
    assert any(r.startswith("Guillain-Barr") and "cannot be excluded (25%)" in r and "is not this emergency" in r
               for r in triage.reasons), triage.reasons


def test_a_guillain_barre_runner_up_in_weak_legs_without_such_a_sign_stays_an_emergency() -> None:
    triage = triage_for(default_model(), GBS_RUNNER_UP, (), present=WEAK_BOTH_LEGS)
    assert triage.level == "emergency"


def test_a_leading_guillain_barre_keeps_its_emergency_whatever_is_reported() -> None:
    leads = {"guillain_barre": 0.5, "b12_deficiency_neuropathy": 0.4, "other": 0.1}
    triage = triage_for(default_model(), leads, (), present=WEAK_BOTH_LEGS | {"ex_hyperreflexia_or_babinski"})
    assert triage.level == "emergency"


def test_brisk_reflexes_take_guillain_barre_out_of_the_emergency_reasons_of_a_four_limb_weakness() -> None:
    """A cervical myelopathy or B12 picture (brisk reflexes) whose list gives GBS a share: GBS is no longer the
    emergency reason. The picture may still be an emergency through the cord (r18refit's 0.115 line makes a
    spinal cord share of ~12% one): a possible cord compression is never traded for a tidier triage."""
    arms_and_legs = ["bilateral", "onset_gradual", "progressive", "loc_hands_too", "loc_toes", "sx_arm_weakness",
                     "sx_weakness"]
    brisk = _assess([*arms_and_legs, "ex_hyperreflexia_or_babinski"])["triage"]
    plain = _assess(arms_and_legs)["triage"]
    assert isinstance(brisk, dict) and isinstance(plain, dict)
    gbs_emergency = [r for r in plain["reasons"] if r.startswith("Guillain-Barre") and "an emergency" in r]
    assert gbs_emergency and plain["level"] == "emergency"
    assert not [r for r in brisk["reasons"] if r.startswith("Guillain-Barre") and "an emergency" in r]
    assert any(r.startswith("Guillain-Barre") and "see the same day" in r for r in brisk["reasons"])



"""Round-14 triage (r14triage): three first-contact decisions a clinician would notice.

* Toes that turned black suddenly are acute or critical digital ischaemia (ESVS 2020, bjorck20; critical
  digital ischaemia needs immediate evaluation, usually in hospital: Marvi & Chung 2010, UK Scleroderma
  Study Group pathway, Hughes 2015): the emergency department, whatever the pulses or colour recorded.
  Gangrene of gradual onset stays the urgent chronic limb-threatening ischaemia referral (GVG 2019).
* Pedal pulses lost after an operation, a fracture or a knee injury are an arterial injury (ESVS 2020)
  - but a claudication of stated gradual onset with an old knee injury in the history is chronic
  peripheral arterial disease, not an emergency.
* A stroke share in a gradual (days to months) picture does not send the patient to the stroke pathway
  (stroke is of sudden onset: AHA/ASA 2019, powers19); the same picture of sudden onset does.
"""

from __future__ import annotations

from services.differential.ranking import default_model, triage_for
from tests.triage_support import assess

STROKE_RUNNER_UP = {"multiple_sclerosis": 0.45, "stroke": 0.2, "other": 0.35}
UMN_FOOT_DROP = {"sx_foot_drop", "sx_weakness", "unilateral", "ex_hyperreflexia_or_babinski", "progressive"}


def test_toes_that_turned_black_suddenly_go_to_the_emergency_department() -> None:
    flags, level, _ = assess("ex_digit_necrosis", "onset_sudden", "bilateral")
    assert "rf_digit_necrosis_sudden" in flags
    assert level == "emergency"


def test_gangrene_of_gradual_onset_is_the_urgent_chronic_ischaemia_referral_not_this_rule() -> None:
    flags, level, _ = assess("ex_digit_necrosis", "onset_gradual", "progressive", "bilateral", "sx_foot_pain")
    assert "rf_digit_necrosis_sudden" not in flags
    assert "rf_digit_necrosis" in flags
    assert level == "urgent"


def test_pulses_lost_after_a_knee_injury_stay_an_emergency_even_over_days() -> None:
    for onset in ("onset_sudden", "onset_gradual"):
        flags, level, _ = assess("ex_diminished_pedal_pulses", "hx_knee_injury_or_surgery", onset, "unilateral")
        assert "rf_pulse_loss_after_surgery_or_injury" in flags, onset
        assert level == "emergency", onset


def test_a_gradual_claudication_with_an_old_knee_injury_is_not_an_arterial_injury() -> None:
    flags, level, _ = assess("ex_diminished_pedal_pulses", "hx_knee_injury_or_surgery", "onset_gradual",
                             "progressive", "sx_claudication", "unilateral", "hx_smoking", age=62)
    assert "rf_pulse_loss_after_surgery_or_injury" not in flags
    assert level != "emergency"


def test_a_gradual_picture_with_a_stroke_share_is_seen_the_same_day_not_sent_to_the_stroke_pathway() -> None:
    model = default_model()
    gradual = triage_for(model, STROKE_RUNNER_UP, (), present=UMN_FOOT_DROP | {"onset_gradual"})
    assert gradual.level == "urgent"
    assert any(r.startswith("Stroke cannot be excluded (20%)") and "gradual onset" in r for r in gradual.reasons)
    assert triage_for(model, STROKE_RUNNER_UP, (), present=UMN_FOOT_DROP).level == "emergency"
    assert triage_for(model, STROKE_RUNNER_UP, (), present=UMN_FOOT_DROP | {"onset_sudden"}).level == "emergency"


def test_a_one_sided_gradual_radiculopathy_whose_leg_gives_way_is_not_sent_to_the_emergency_department() -> None:
    picture = ("sx_back_pain", "sx_radiating_leg_pain", "sx_weakness", "sx_leg_gives_way_or_falls", "onset_gradual",
               "unilateral")
    flags, level, _ = assess(*picture)
    assert "rf_back_pain_with_falls" not in flags
    assert level != "emergency"


def test_back_pain_with_falls_stays_an_emergency_when_progressive_with_sphincter_signs_injury_or_cancer() -> None:
    picture = ("sx_back_pain", "sx_weakness", "sx_leg_gives_way_or_falls", "onset_gradual", "unilateral")
    for extra in ("progressive", "sx_bladder_bowel_dysfunction", "hx_cancer", "hx_back_injury",
                  "ex_hyperreflexia_or_babinski"):
        flags, level, _ = assess(*picture, extra)
        assert "rf_back_pain_with_falls" in flags, extra
        assert level == "emergency", extra
    flags, level, _ = assess("sx_back_pain", "sx_weakness", "sx_leg_gives_way_or_falls", "unilateral")
    assert "rf_back_pain_with_falls" in flags and level == "emergency"

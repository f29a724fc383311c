"""Round-12 triage (r12over): an emergency condition's probability raises a case only in that
emergency's own setting, for three more emergencies, for a leader of them, and on the 1% line.

Guillain-Barre syndrome is a disease of limb weakness (every Brighton-criteria patient in Fokke 2014;
NINDS, Asbury 1990), areflexia, an ascending course or, in Miller Fisher, ataxia: a chronic symmetric
sensory neuropathy whose differential gives GBS a share is seen the same day, not sent to the
emergency department. Acute limb ischaemia needs an ischaemic sign, a sudden onset or an embolic
source (ESVS 2020); cauda equina syndrome back pain or sciatica, bilateral symptoms or a sphincter,
saddle or sexual change (GIRFT 2023). Red flags are untouched; acute compartment syndrome and spinal
cord injury keep their leader's level and the do-not-miss line as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.cli.casefile import case_from_json
from services.cli.render import assessment_json
from services.differential.ranking import default_model, triage_for
from services.knowledge.loader import KnowledgeBaseError, load_knowledge_base
from services.pipeline.local import assess_local

GBS_RUNNER_UP = {"b12_deficiency_neuropathy": 0.6, "guillain_barre": 0.25, "other": 0.15}
GBS_LEADS = {"guillain_barre": 0.45, "b12_deficiency_neuropathy": 0.4, "other": 0.15}
ALI_LEADS = {"acute_limb_ischemia": 0.4, "lumbar_radiculopathy": 0.35, "other": 0.25}
ALI_LISTED = {"mortons_neuroma": 0.9, "acute_limb_ischemia": 0.03, "other": 0.07}
CES_RUNNER_UP = {"common_fibular_neuropathy": 0.7, "cauda_equina_syndrome": 0.2, "other": 0.1}
SENSORY = {"bilateral", "symmetric", "loc_hands_too", "ex_reduced_vibration", "onset_gradual", "progressive"}


def _assess(present: list[str], age: int = 45) -> dict[str, object]:
    case = {"patient": {"activity": "", "age": age}, "evidence": [{"id": f, "state": "present"} for f in present]}
    return assessment_json(assess_local(case_from_json(case)))


def _triage(result: dict[str, object]) -> dict[str, object]:
    triage = result["triage"]
    assert isinstance(triage, dict)
    return triage


def _probability(result: dict[str, object], cid: str) -> float:
    conditions = result["differential"]
    assert isinstance(conditions, list)
    return float(next(c["probability"] for c in conditions if c["condition"] == cid))


def test_a_sensory_only_picture_with_guillain_barre_runner_up_is_seen_the_same_day() -> None:
    triage = triage_for(default_model(), GBS_RUNNER_UP, (), present=SENSORY)
    assert triage.level == "urgent"
    assert any(r.startswith("Guillain-Barr") and "cannot be excluded (25%)" in r and "none of the settings" in r
               for r in triage.reasons), triage.reasons


@pytest.mark.parametrize("setting", ["sx_weakness", "ascending", "ex_absent_reflexes",
                                     "sx_breathing_or_swallowing_difficulty", "sx_balance_problems"])
def test_guillain_barre_in_its_setting_stays_an_emergency(setting: str) -> None:
    triage = triage_for(default_model(), GBS_RUNNER_UP, (), present=SENSORY | {setting})
    assert triage.level == "emergency"
    assert triage.reasons[0].startswith("Guillain-Barr") and "is possible (25%)" in triage.reasons[0]


def test_a_leading_guillain_barre_without_weakness_is_urgent_with_weakness_an_emergency() -> None:
    model = default_model()
    assert triage_for(model, GBS_LEADS, (), present=SENSORY).level == "urgent"
    assert triage_for(model, GBS_LEADS, (), present=SENSORY | {"sx_weakness"}).level == "emergency"


def test_a_chronic_symmetric_sensory_neuropathy_is_not_an_emergency_by_gbs_probability() -> None:
    """End to end: months of symmetric numbness of the feet and hands with reduced vibration sense and a
    reduced ankle jerk after a recent infection (a lupus sensory neuronopathy's record). Guillain-Barre gets a
    real share, no red flag fires, and the case is urgent with the reason, not an emergency."""
    result = _assess([*sorted(SENSORY), "hx_recent_infection", "ex_reduced_ankle_reflex"])
    triage = _triage(result)
    assert _probability(result, "guillain_barre") >= default_model().kb.triage_policy.emergency_condition_threshold
    assert not triage["red_flags"]
    assert triage["level"] == "urgent"
    reasons = triage["reasons"]
    assert isinstance(reasons, list)
    assert any("cannot be excluded" in str(r) and "none of the settings" in str(r) for r in reasons)


def test_a_rapidly_ascending_areflexic_weakness_after_diarrhoea_stays_an_emergency() -> None:
    result = _assess(["bilateral", "symmetric", "ascending", "sx_weakness", "ex_absent_reflexes",
                      "hx_recent_infection", "onset_sudden", "progressive"], age=30)
    assert _triage(result)["level"] == "emergency"


def test_leading_limb_ischaemia_needs_an_ischaemic_sign_or_an_acute_onset() -> None:
    model = default_model()
    bare = triage_for(model, ALI_LEADS, (), present={"sx_leg_pain", "sx_back_pain", "sx_weakness"})
    assert bare.level == "urgent"
    assert any("Acute limb" in r and "none of the settings" in r for r in bare.reasons)
    for sign in ("sx_cold_foot", "ex_diminished_pedal_pulses", "onset_sudden", "hx_atrial_fibrillation"):
        assert triage_for(model, ALI_LEADS, (), present={"sx_leg_pain", sign}).level == "emergency", sign


def test_a_leading_limb_ischaemia_of_gradual_onset_with_its_signs_stays_an_emergency() -> None:
    """A stated course never gates a leader (the vocabulary's gradual means days to months)."""
    present = {"onset_gradual", "ex_diminished_pedal_pulses", "sx_cold_foot", "sx_weakness"}
    assert triage_for(default_model(), ALI_LEADS, (), present=present).level == "emergency"


def test_the_do_not_miss_line_reads_the_setting_for_limb_ischaemia() -> None:
    """A routine picture with limb ischaemia at 3% and none of its settings stays routine and says why;
    with a cold pale foot the same 3% makes it urgent."""
    model = default_model()
    bare = triage_for(model, ALI_LISTED, (), present={"loc_ball_of_foot", "sx_burning"})
    assert bare.level == "routine"
    assert any("Acute limb" in r and "is listed (3.0%)" in r and "not urgent on that alone" in r for r in bare.reasons)
    cold = triage_for(model, ALI_LISTED, (), present={"loc_ball_of_foot", "sx_cold_foot", "sx_pallor_or_cyanosis"})
    assert cold.level == "urgent"


def test_the_do_not_miss_line_is_unchanged_for_compartment_syndrome() -> None:
    """Held out, gating this line for compartment syndrome sent four emergencies to routine care."""
    probs = {"mortons_neuroma": 0.97, "acute_compartment_syndrome": 0.02, "other": 0.01}
    assert triage_for(default_model(), probs, (), present={"loc_ball_of_foot"}).level == "urgent"


def test_cauda_equina_without_back_pain_sciatica_or_sphincter_change_is_urgent() -> None:
    model = default_model()
    assert triage_for(model, CES_RUNNER_UP, (), present={"sx_foot_drop", "unilateral"}).level == "urgent"
    for setting in ("sx_back_pain", "sx_radiating_leg_pain", "bilateral", "loc_saddle_area"):
        assert triage_for(model, CES_RUNNER_UP, (), present={"sx_foot_drop", setting}).level == "emergency", setting


@pytest.mark.parametrize("cid", ["acute_compartment_syndrome", "spinal_cord_injury", "stroke"])
def test_these_leaders_keep_their_emergency_without_a_setting(cid: str) -> None:
    probs = {cid: 0.5, "common_fibular_neuropathy": 0.4, "other": 0.1}
    assert triage_for(default_model(), probs, (), present={"unilateral"}).level == "emergency"


def test_a_red_flag_still_wins_over_the_gate() -> None:
    """Breathing difficulty is GBS's red flag: the case is an emergency whatever the gate says."""
    result = _assess([*sorted(SENSORY), "sx_breathing_or_swallowing_difficulty"])
    assert _triage(result)["level"] == "emergency"


def _load_with(data: Path, key: str, value: list[str]) -> None:
    """Load a copy of the knowledge base (the ``data_copy`` fixture) with one triage policy field set."""
    triage = yaml.safe_load((data / "triage.yaml").read_text())
    triage["policy"][key] = value
    (data / "triage.yaml").write_text(yaml.safe_dump(triage))
    load_knowledge_base(data)


def test_a_gate_list_naming_a_condition_without_a_setting_is_refused(data_copy: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="emergency_setting_gates_leader: \\['stroke'\\]"):
        _load_with(data_copy, "emergency_setting_gates_leader", ["stroke"])


def test_a_do_not_miss_gate_on_a_condition_without_a_setting_is_refused(data_copy: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="emergency_setting_gates_dont_miss: \\['mortons_neuroma'\\]"):
        _load_with(data_copy, "emergency_setting_gates_dont_miss", ["mortons_neuroma"])

"""Round-11 triage (r11over): an emergency's probability alone raises a case to emergency only in
the emergency's own setting (``triage.yaml`` ``emergency_needs_context`` / ``emergency_not_when``).

Acute compartment syndrome follows an injury, exertion, immobilisation, surgery or ischaemia in
most patients (McQueen 2000; BOAST 10); without any of them reported, a foot drop whose differential
gives it 12% or more is seen the same day, not sent to the emergency department. Acute limb
ischaemia is sudden by definition (ESVS 2020): a gradual onset is chronic ischaemia, urgent. Red
flags are untouched, and a leading emergency keeps its own level.
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

ACS_RUNNER_UP = {"common_fibular_neuropathy": 0.6, "acute_compartment_syndrome": 0.2, "other": 0.2}
ALI_RUNNER_UP = {"peripheral_arterial_disease": 0.8, "acute_limb_ischemia": 0.15, "other": 0.05}


def _assess(present: list[str], age: int = 30) -> dict[str, object]:
    case = {"patient": {"activity": "", "age": age}, "evidence": [{"id": f, "state": "present"} for f in present]}
    return assessment_json(assess_local(case_from_json(case)))


def _level(result: dict[str, object]) -> str:
    triage = result["triage"]
    assert isinstance(triage, dict)
    return str(triage["level"])


def test_compartment_syndrome_without_its_setting_is_seen_the_same_day() -> None:
    triage = triage_for(default_model(), ACS_RUNNER_UP, (), present={"sx_foot_drop", "unilateral"})
    assert triage.level == "urgent"
    assert any("Acute compartment syndrome cannot be excluded (20%)" in r and "none of the settings" in r
               for r in triage.reasons)


@pytest.mark.parametrize("setting", ["hx_fracture_or_crush_injury", "ex_tense_compartment",
                                     "ex_pain_on_passive_stretch", "sx_pain_out_of_proportion",
                                     "hx_prolonged_immobilization", "during_running_only", "onset_sudden"])
def test_compartment_syndrome_in_its_setting_stays_an_emergency(setting: str) -> None:
    triage = triage_for(default_model(), ACS_RUNNER_UP, (), present={"sx_foot_drop", setting})
    assert triage.level == "emergency"
    assert triage.reasons[0].startswith("Acute compartment syndrome is possible (20%)")


def test_a_caller_without_the_findings_keeps_the_threshold() -> None:
    assert triage_for(default_model(), ACS_RUNNER_UP, ()).level == "emergency"


def test_a_leading_compartment_syndrome_keeps_its_emergency() -> None:
    probs = {"acute_compartment_syndrome": 0.6, "common_fibular_neuropathy": 0.3, "other": 0.1}
    assert triage_for(default_model(), probs, (), present={"sx_leg_pain"}).level == "emergency"


def test_limb_ischaemia_of_gradual_onset_is_urgent_and_sudden_is_an_emergency() -> None:
    model = default_model()
    gradual = triage_for(model, ALI_RUNNER_UP, (), present={"onset_gradual", "ex_diminished_pedal_pulses"})
    assert gradual.level == "urgent"
    assert any("gradual onset" in r for r in gradual.reasons)
    sudden = triage_for(model, ALI_RUNNER_UP, (), present={"onset_sudden", "ex_diminished_pedal_pulses"})
    assert sudden.level == "emergency"


def test_a_foot_drop_from_a_fibular_head_ganglion_is_urgent() -> None:
    """A painless foot drop with a mass at the outer leg (an intraneural ganglion): same-day care."""
    result = _assess(["sx_foot_drop", "unilateral", "ex_palpable_mass", "loc_lateral_leg"], age=16)
    assert _level(result) == "urgent"


def test_a_foot_drop_with_a_tense_compartment_after_a_fracture_stays_an_emergency() -> None:
    result = _assess(["sx_foot_drop", "unilateral", "hx_fracture_or_crush_injury", "ex_tense_compartment",
                      "sx_leg_pain"], age=25)
    assert _level(result) == "emergency"


def test_a_foot_drop_after_a_fracture_alone_stays_an_emergency() -> None:
    """The injury is the setting: the compartment syndrome's share still raises the case."""
    result = _assess(["sx_foot_drop", "unilateral", "hx_fracture_or_crush_injury"], age=25)
    assert _level(result) == "emergency"
    reasons = result["triage"]
    assert isinstance(reasons, dict)
    assert any(str(r).startswith("Acute compartment syndrome is possible") for r in reasons["reasons"])


def test_chronic_ischaemia_of_gradual_onset_is_urgent_sudden_is_an_emergency() -> None:
    chronic = ["hx_smoking", "hx_cardiovascular_disease", "unilateral", "progressive",
               "ex_diminished_pedal_pulses", "sx_swelling"]
    assert _level(_assess([*chronic, "onset_gradual"], age=70)) == "urgent"
    assert _level(_assess([*chronic, "onset_sudden"], age=70)) == "emergency"


def test_an_unknown_finding_in_the_setting_table_is_refused(data_copy: Path) -> None:
    data = data_copy
    triage = yaml.safe_load((data / "triage.yaml").read_text())
    triage["policy"]["emergency_needs_context"]["acute_compartment_syndrome"].append("hx_no_such_finding")
    (data / "triage.yaml").write_text(yaml.safe_dump(triage))
    with pytest.raises(KnowledgeBaseError, match="emergency_needs_context.acute_compartment_syndrome"):
        load_knowledge_base(data)

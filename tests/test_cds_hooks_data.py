"""CDS Hooks data and mapping, without servers: the FHIR-to-evidence mapping names real findings
and real ICD-10-CM codes, the schemas are valid, and EHR resources map as a clinician expects."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import simple_icd_10_cm as icd
import yaml
from footcds.v1 import common_pb2, encounter_pb2, intake_pb2
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from services.gateway.cds_hooks import cards, mapping, orders, schemas
from services.knowledge import knowledge_base
from tests.cds_hooks_support import TARSAL_TUNNEL, intake

VOCABULARY = Path(mapping.__file__).resolve().parents[2] / "knowledge" / "vocabulary.yaml"
PRESENT, ABSENT = common_pb2.EVIDENCE_STATE_PRESENT, common_pb2.EVIDENCE_STATE_ABSENT
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def condition(code: str, clinical: str = "active", verification: str = "confirmed") -> dict[str, Any]:
    return {"resourceType": "Condition", "clinicalStatus": {"coding": [{"code": clinical}]},
            "verificationStatus": {"coding": [{"code": verification}]},
            "code": {"coding": [{"system": ICD, "code": code}]}}


def observation(loinc: str, when: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]}, **value}


def test_mapping_targets_exist_and_icd_codes_are_real() -> None:
    kb = knowledge_base()
    flags = set(yaml.safe_load(VOCABULARY.read_text())["context_flags"])
    m = mapping.mapping()
    for rule in m.conditions:
        assert (rule.finding in kb.findings) if rule.finding else (rule.context_flag in flags), rule
        for code in rule.icd10cm:
            assert icd.is_valid_item(code), code
    for obs in m.observations:
        for finding in [obs.finding, *(t.finding for t in obs.thresholds)]:
            assert not finding or finding in kb.findings
    for test_id in m.order_select_tests:
        assert kb.tests[test_id].cpt, f"{test_id} has no CPT code to recognise a draft order by"
    assert orders.test_by_code()[("http://www.ama-assn.org/go/cpt", "73718")] == "mri_foot_ankle"


def test_schemas_are_valid_draft_2020_12() -> None:
    for name in schemas.NAMES:
        Draft202012Validator.check_schema(schemas._documents()[name])


def test_problem_list_maps_history_and_context_but_respects_status() -> None:
    evidence, flags = mapping.condition_evidence([
        condition("E11.40"), condition("F10.20", clinical="resolved"), condition("M32.9", verification="refuted"),
        condition("I10", verification="entered-in-error"), condition("Z79.01"), condition("R32"),
    ])
    assert evidence == {"hx_diabetes": PRESENT, "hx_autoimmune_lupus": ABSENT}
    assert flags == {"anticoagulated"}  # and incontinence (R32) is never read as today's red flag


def test_observations_map_by_value_and_threshold_newest_first() -> None:
    got = mapping.observation_evidence([
        observation("4548-4", "2025-01-01", valueQuantity={"value": 7.1, "unit": "%"}),
        observation("4548-4", "2026-06-01", valueQuantity={"value": 6.0, "unit": "%"}),
        observation("72166-2", "2026-06-01", valueCodeableConcept={"coding": [{"code": "266919005"}]}),
    ])
    assert got == {"hx_prediabetes": PRESENT, "hx_smoking": ABSENT}


def test_intake_answers_win_over_the_record() -> None:
    form = intake_pb2.GetIntakeFormResponse(questions=[intake_pb2.FormQuestion(
        question_id="q_health", options=[intake_pb2.FormOption(option_id="none", sets_absent=["hx_diabetes"])])])
    qr = intake("p", {**TARSAL_TUNNEL, "q_health": ["none"]})
    request = mapping.assess_request({"birthDate": "1980-12-31", "gender": "female"}, "ref", qr,
                                     [condition("E11.9"), condition("Z33.1")], [], form)
    assert not any(e.finding_id == "hx_diabetes" for e in request.evidence)
    assert list(request.patient.context_flags) == ["pregnancy"]
    assert {a.question_id: list(a.option_ids) for a in request.answers}["q_location"] == ["sole", "medial_ankle"]
    assert request.patient.sex == common_pb2.SEX_FEMALE


@pytest.mark.parametrize(("birth", "age"), [("1980-12-31", 45), ("1980-12-06", 46), ("1980", 46), ("junk", None)])
def test_age_from_birth_date(birth: str, age: int | None) -> None:
    assert mapping.age_on(birth, date(2026, 12, 6)) == age


def test_latest_completed_intake_is_used() -> None:
    old, new, draft = intake("p", {}, "2026-01-01"), intake("p", {}, "2026-06-01"), intake("p", {}, "2026-12-01")
    draft["status"] = "in-progress"
    assert mapping.latest([old, draft, new]) is new


def test_an_emergency_summary_leads_with_the_red_flag_and_stays_short() -> None:
    a = encounter_pb2.Assessment(
        triage=common_pb2.Triage(level=common_pb2.TRIAGE_LEVEL_EMERGENCY, red_flags=[
            common_pb2.RedFlag(description="New loss of bladder or bowel control " * 6)]),
        differential=common_pb2.Differential(conditions=[common_pb2.ConditionScore(label="Cauda equina syndrome")]),
    )
    text = cards.summary(a)
    assert text.startswith("EMERGENCY: red flag") and len(text) < 140
    assert cards.indicator_of(common_pb2.TRIAGE_LEVEL_URGENT) == "warning"
    assert cards.indicator_of(common_pb2.TRIAGE_LEVEL_SELF_CARE) == "info"

"""FHIR R4B out: a validated collection Bundle an EHR can file without seeing a name."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Unpack

import pytest
from fhir.resources.R4B.bundle import Bundle
from footcds.v1 import encounter_pb2

from services.differential.ranking import rank
from services.encounter.fhir import CPT, ICD10CM, LOINC, SNOMED, assessment_bundle
from services.knowledge.clinical import Case, Patient, State
from services.knowledge.loader import knowledge_base
from services.treatment.domain import plan_treatment
from services.wire import convert, encoding
from services.workup.domain import recommend_tests
from tests.patients import PatientFields

P, A = State.PRESENT, State.ABSENT


def case(*present: str, **patient: Unpack[PatientFields]) -> Case:
    return Case(Patient(**patient), {f: P for f in present})


TARSAL = case("loc_sole", "loc_heel", "sx_burning", "worse_at_night", "unilateral", age=45, ref="pt-7f3a")
DIABETIC = case("hx_diabetes", "bilateral", "loc_toes", "onset_gradual", age=58, ref="pt-2")
STROKE = case("onset_sudden", "sx_facial_droop", "sx_slurred_speech", "unilateral", age=70, ref="pt-3")
LACES = case("loc_dorsum_foot", "during_running_only", "relieved_by_removing_shoes", "hx_tight_lacing",
             age=28, ref="pt-4")


def assessment(c: Case) -> encounter_pb2.Assessment:
    kb = knowledge_base()
    d = rank(c)
    workup = recommend_tests(kb, c, d)
    plan = plan_treatment(kb, c.patient, d)
    return encounter_pb2.Assessment(
        triage=convert.triage_to_pb(d.triage),
        differential=encoding.differential_to_pb(d),
        tests=[convert.test_to_pb(t) for t in workup.tests],
        plan=convert.plan_to_pb(plan),
        evidence=convert.evidence_to_pb(dict(c.evidence)),
        patient=convert.patient_to_pb(c.patient),
        workup_note=workup.note,
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def keys(node: Any) -> set[str]:
    """Every key anywhere in a JSON tree."""
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in keys(v)}
    return set()


@pytest.fixture(scope="module")
def tarsal() -> dict[str, Any]:
    return assessment_bundle(assessment(TARSAL))


def test_the_bundle_is_valid_r4b_json(tarsal: dict[str, Any]) -> None:
    assert tarsal["resourceType"] == "Bundle" and tarsal["type"] == "collection"
    again = json.loads(json.dumps(tarsal))
    assert Bundle.model_validate(again).model_dump(mode="json") == tarsal
    urls = [e["fullUrl"] for e in tarsal["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)


def test_version_and_disclaimer_travel_with_the_bundle(tarsal: dict[str, Any]) -> None:
    kb = knowledge_base()
    tags = {t["system"]: t for t in tarsal["meta"]["tag"]}
    assert tags["urn:footcds:kb-version"]["code"] == kb.version
    assert tags["urn:footcds:notice"]["display"] == kb.disclaimer
    notes = " ".join(n["text"] for n in resources(tarsal, "RiskAssessment")[0]["note"])
    assert kb.version in notes and kb.disclaimer in notes


def test_conditions_are_coded_and_only_a_confident_leader_is_provisional(tarsal: dict[str, Any]) -> None:
    conditions = resources(tarsal, "Condition")
    statuses = [c["verificationStatus"]["coding"][0]["code"] for c in conditions]
    leader = rank(TARSAL).conditions[0]
    assert statuses[0] == ("provisional" if leader.probability >= 0.6 else "differential")
    assert set(statuses[1:]) <= {"differential"}
    first = conditions[0]["code"]
    assert first["text"] == leader.label
    systems = {c["system"]: c["code"] for c in first["coding"]}
    assert systems[ICD10CM] == leader.icd10cm[0] and systems[SNOMED] == leader.snomed


def test_a_weak_leader_is_only_a_differential() -> None:
    vague = case("loc_toes", "sx_tingling", ref="pt-5")
    assert rank(vague).conditions[0].probability < 0.6
    bundle = assessment_bundle(assessment(vague))
    codes = {c["verificationStatus"]["coding"][0]["code"] for c in resources(bundle, "Condition")}
    assert codes == {"differential"}


def test_the_risk_assessment_predicts_every_condition(tarsal: dict[str, Any]) -> None:
    (risk,) = resources(tarsal, "RiskAssessment")
    probs = [p["probabilityDecimal"] for p in risk["prediction"]]
    assert len(probs) == len(knowledge_base().conditions)
    assert abs(sum(probs) - 1) < 1e-4 and probs == sorted(probs, reverse=True)
    assert risk["prediction"][0]["outcome"]["text"] == rank(TARSAL).conditions[0].label


def test_every_recommended_test_is_a_draft_proposal_with_its_codes() -> None:
    bundle = assessment_bundle(assessment(DIABETIC))
    requests = resources(bundle, "ServiceRequest")
    tests = recommend_tests(knowledge_base(), DIABETIC, rank(DIABETIC)).tests
    assert len(requests) == len(tests)
    for request, test in zip(requests, tests, strict=True):
        assert (request["status"], request["intent"]) == ("draft", "proposal")
        coded = {(c["system"], c["code"]) for c in request["code"]["coding"]}
        assert {(CPT, code) for code in test.cpt} <= coded
        assert {(LOINC, code) for code in test.loinc} <= coded
    hba1c = requests[0]
    assert any(c["system"] == LOINC for c in hba1c["code"]["coding"])


def test_references_point_inside_the_bundle(tarsal: dict[str, Any]) -> None:
    urls = {e["fullUrl"] for e in tarsal["entry"]}
    refs = [r["reference"] for s in resources(tarsal, "ServiceRequest") for r in s.get("reasonReference", [])]
    (care,) = resources(tarsal, "CarePlan")
    refs += [r["reference"] for r in care.get("addresses", [])]
    assert refs and set(refs) <= urls


def test_the_care_plan_is_a_draft_with_one_activity_per_item(tarsal: dict[str, Any]) -> None:
    (care,) = resources(tarsal, "CarePlan")
    plan = plan_treatment(knowledge_base(), TARSAL.patient, rank(TARSAL))
    assert (care["status"], care["intent"]) == ("draft", "proposal")
    assert [a["detail"]["description"] for a in care["activity"]] == [i.text for i in plan.items]
    assert all(a["detail"]["status"] == "not-started" for a in care["activity"])
    notes = " ".join(n["text"] for n in care["note"])
    assert plan.safety_net[0] in notes


def test_an_emergency_test_is_stat() -> None:
    bundle = assessment_bundle(assessment(STROKE))
    first = resources(bundle, "ServiceRequest")[0]
    assert first["priority"] == "stat"
    assert any(c["code"] == "70450" for c in first["code"]["coding"])  # CT head


def test_no_test_means_no_service_request_and_the_safety_net_is_kept() -> None:
    bundle = assessment_bundle(assessment(LACES))
    assert resources(bundle, "ServiceRequest") == []
    (care,) = resources(bundle, "CarePlan")
    assert any("persists at rest" in n["text"] for n in care["note"])


def test_the_subject_is_the_opaque_reference_never_a_name() -> None:
    named = replace(TARSAL, patient=replace(TARSAL.patient, ref="MRN 0042/x"))
    bundle = assessment_bundle(assessment(named))
    subjects = [e["resource"]["subject"] for e in bundle["entry"] if "subject" in e["resource"]]
    assert subjects and all(s == {"identifier": {"system": "urn:footcds:patient-ref", "value": "MRN 0042/x"}}
                            for s in subjects)
    ok = assessment_bundle(assessment(TARSAL))
    assert resources(ok, "CarePlan")[0]["subject"] == {"reference": "Patient/pt-7f3a"}
    assert not resources(ok, "Patient") and "name" not in keys(ok)


def test_the_same_assessment_gives_the_same_bundle() -> None:
    one = assessment(TARSAL)
    assert assessment_bundle(one) == assessment_bundle(one)
    other = assessment_bundle(assessment(DIABETIC))
    assert {e["fullUrl"] for e in other["entry"]}.isdisjoint(
        {e["fullUrl"] for e in assessment_bundle(one)["entry"]}
    )

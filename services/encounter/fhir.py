"""An Assessment as a FHIR R4B Bundle, validated by the ``fhir.resources`` R4B models.

| FootCDS (Assessment)                  | FHIR R4B                                                       |
|---------------------------------------|----------------------------------------------------------------|
| the whole assessment                  | Bundle, type ``collection``; ``meta.tag``: KB version and the   |
|                                       | decision-support disclaimer (``urn:footcds:*`` systems)         |
| patient.patient_ref                   | every ``subject``: ``Patient/<ref>`` when the ref is a valid    |
|                                       | FHIR id, else an identifier-only reference                      |
|                                       | (``urn:footcds:patient-ref``); never a name                     |
| leading ConditionScore (not unlikely, | Condition: clinicalStatus active, category encounter-diagnosis, |
| top 5, plus don't-miss)               | verificationStatus ``differential`` (``provisional`` for a      |
|                                       | leader >= 0.6), code ICD-10-CM + SNOMED CT, note = probability  |
| differential (every condition) and    | RiskAssessment, status preliminary: one prediction per          |
| triage                                | condition (outcome codes, probabilityDecimal, rationale =       |
|                                       | evidence for/against); mitigation = triage advice; note =       |
|                                       | triage, KB version, disclaimer                                  |
| TestRecommendation (not none_needed)  | ServiceRequest, status draft, intent proposal, priority stat    |
|                                       | (immediate) or routine; code CPT + LOINC; reasonReference ->    |
|                                       | the Conditions it bears on; note = tier, rationale,             |
|                                       | contraindications found                                         |
| TreatmentPlan                         | CarePlan, status draft, intent proposal; one activity per item  |
|                                       | (detail.description = text, status not-started,                 |
|                                       | scheduledString = stage); addresses -> Conditions; note =       |
|                                       | hold running, follow-up, return to run, safety net, conflicts,  |
|                                       | work-up note, disclaimer                                        |

Systems: ICD-10-CM ``http://hl7.org/fhir/sid/icd-10-cm``, SNOMED CT ``http://snomed.info/sct``,
CPT ``http://www.ama-assn.org/go/cpt``, LOINC ``http://loinc.org``.  Entry ids are
``urn:uuid`` values derived from the assessment's bytes, so the same assessment always gives
the same Bundle (cacheable, diff-able) and two assessments never share ids.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from footcds.v1 import common_pb2, encounter_pb2

from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.knowledge.policy import clinical_policy
from services.wire.convert import PB_TO_TRIAGE

JSON = dict[str, Any]

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
SYSTEMS = {"ICD-10-CM": ICD10CM, "SNOMED CT": SNOMED, "CPT": CPT, "LOINC": LOINC}
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
PATIENT_REF_SYSTEM = "urn:footcds:patient-ref"
KB_VERSION_SYSTEM = "urn:footcds:kb-version"
NOTICE_SYSTEM = "urn:footcds:notice"
NAMESPACE = uuid.UUID("6f1c2d4e-8a57-4f0b-9d1e-3c5b7a9e2f10")

# A leader this probable is "provisional"; everything else "differential" (knowledge/data/policy.yaml).
PROVISIONAL_AT = clinical_policy().fhir.provisional_probability.value
MAX_CONDITIONS = 5
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
TIER_WORDS = {
    common_pb2.TEST_TIER_IMMEDIATE: "immediate",
    common_pb2.TEST_TIER_FIRST_LINE: "first line",
    common_pb2.TEST_TIER_IF_UNCLEAR: "if unclear",
}
STAGE_WORDS = {
    common_pb2.PLAN_STAGE_NOW: "now",
    common_pb2.PLAN_STAGE_NEXT_2_6_WEEKS: "next 2-6 weeks",
    common_pb2.PLAN_STAGE_ESCALATION: "if no better (escalation)",
}


class _Ids:
    """Stable ``urn:uuid`` full URLs, one per resource key, unique to this assessment."""

    def __init__(self, assessment: encounter_pb2.Assessment) -> None:
        self.digest = hashlib.sha256(assessment.SerializeToString(deterministic=True)).hexdigest()

    def __call__(self, key: str) -> str:
        return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{self.digest}/{key}')}"


def subject(patient_ref: str) -> JSON:
    """A reference to the patient that carries only the caller's opaque reference."""
    if FHIR_ID.match(patient_ref):
        return {"reference": f"Patient/{patient_ref}"}
    if patient_ref:
        return {"identifier": {"system": PATIENT_REF_SYSTEM, "value": patient_ref}}
    return {"display": "patient (no reference given)"}


def codeable(codes: Iterable[common_pb2.Code], text: str) -> JSON:
    codings = [
        {"system": SYSTEMS[c.system], "code": c.code, **({"display": c.display} if c.display else {})}
        for c in codes
        if c.system in SYSTEMS and c.code
    ]
    out: JSON = {"text": text}
    if codings:
        out["coding"] = codings
    return out


def _concept(system: str, code: str) -> JSON:
    return {"coding": [{"system": system, "code": code}]}


def leading_conditions(
    differential: common_pb2.Differential,
) -> list[common_pb2.ConditionScore]:
    """Conditions worth a Condition resource: the considered ones, plus every don't-miss."""
    ranked = sorted(differential.conditions, key=lambda c: -c.probability)
    leading = [c for c in ranked if not c.unlikely][:MAX_CONDITIONS] or ranked[:1]
    seen = {c.condition_id for c in leading}
    for c in differential.dont_miss:
        if c.condition_id not in seen:
            leading.append(c)
            seen.add(c.condition_id)
    return leading


def _condition(
    score: common_pb2.ConditionScore, leader: bool, ref: JSON, kb_version: str
) -> JSON:
    status = "provisional" if leader and score.probability >= PROVISIONAL_AT else "differential"
    flags = [w for w, on in (("emergency", score.emergency), ("don't miss", score.dont_miss)) if on]
    note = (
        f"FootCDS probability {score.probability:.1%} ({kb_version})"
        + (f"; {', '.join(flags)}" if flags else "")
        + ". Decision support, not a diagnosis."
    )
    return {
        "resourceType": "Condition",
        "clinicalStatus": _concept(CONDITION_CLINICAL, "active"),
        "verificationStatus": _concept(CONDITION_VERIFICATION, status),
        "category": [_concept(CONDITION_CATEGORY, "encounter-diagnosis")],
        "code": codeable(score.codes, score.label),
        "subject": ref,
        "note": [{"text": note}],
    }


def _rationale(score: common_pb2.ConditionScore) -> str | None:
    parts = []
    if score.evidence_for:
        parts.append("for: " + ", ".join(w.label for w in score.evidence_for))
    if score.evidence_against:
        parts.append("against: " + ", ".join(w.label for w in score.evidence_against))
    return "; ".join(parts) or None


def _risk_assessment(assessment: encounter_pb2.Assessment, ref: JSON, kb: KnowledgeBase) -> JSON:
    triage = assessment.triage
    predictions = []
    for score in sorted(assessment.differential.conditions, key=lambda c: -c.probability):
        prediction: JSON = {
            "outcome": codeable(score.codes, score.label),
            "probabilityDecimal": round(score.probability, 6),
        }
        rationale = _rationale(score)
        if rationale:
            prediction["rationale"] = rationale
        predictions.append(prediction)
    level = kb.triage_label(PB_TO_TRIAGE.get(triage.level, ""), "record", "unknown")
    notes = [
        f"Triage: {level}. " + " ".join(triage.reasons),
        f"Knowledge base {assessment.kb_version}. {assessment.disclaimer}",
    ]
    out: JSON = {
        "resourceType": "RiskAssessment",
        "status": "preliminary",
        "subject": ref,
        "method": {"text": f"FootCDS Bayesian differential ({assessment.kb_version})"},
        "prediction": predictions,
        "note": [{"text": n.strip()} for n in notes if n.strip()],
    }
    if triage.advice:
        out["mitigation"] = triage.advice
    return out


def _references(condition_ids: Iterable[str], urls: dict[str, str]) -> list[JSON]:
    return [{"reference": urls[c]} for c in condition_ids if c in urls]


def _service_request(
    test: common_pb2.TestRecommendation, ref: JSON, urls: dict[str, str]
) -> JSON:
    notes = [f"{TIER_WORDS.get(test.tier, 'unspecified')} tier. {test.rationale}".strip()]
    if test.contraindications_found:
        flags = ", ".join(f.replace("_", " ") for f in test.contraindications_found)
        notes.append(f"Contraindicated for this patient ({flags}): not advised as it stands.")
    out: JSON = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "priority": "stat" if test.tier == common_pb2.TEST_TIER_IMMEDIATE else "routine",
        "code": codeable(test.codes, test.label),
        "subject": ref,
        "note": [{"text": n} for n in notes],
    }
    reasons = _references(test.condition_ids, urls)
    if reasons:
        out["reasonReference"] = reasons
    return out


def _care_plan(assessment: encounter_pb2.Assessment, ref: JSON, urls: dict[str, str]) -> JSON:
    plan = assessment.plan
    activities = [
        {
            "detail": {
                "status": "not-started",
                "description": item.text,
                "scheduledString": STAGE_WORDS.get(item.stage, "unspecified"),
                **(
                    {"reasonReference": _references(item.condition_ids, urls)}
                    if _references(item.condition_ids, urls)
                    else {}
                ),
            }
        }
        for item in plan.items
    ]
    notes = [
        "Running: stop until reviewed." if plan.hold_running else "",
        f"Review in {plan.follow_up_days} days." if plan.follow_up_days else "Review now.",
        _joined("Return to running", plan.return_to_run),
        _joined("Come back now if", plan.safety_net),
        _joined("Conflicts resolved", plan.conflicts_resolved),
        f"Work-up: {assessment.workup_note}" if assessment.workup_note else "",
        f"Knowledge base {assessment.kb_version}. {assessment.disclaimer}",
    ]
    out: JSON = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "proposal",
        "title": "FootCDS draft staged plan",
        "subject": ref,
        "note": [{"text": n} for n in notes if n],
    }
    if activities:
        out["activity"] = activities
    addresses = _references(plan.condition_ids, urls)
    if addresses:
        out["addresses"] = addresses
    return out


def _joined(title: str, lines: Sequence[str]) -> str:
    return f"{title}: " + " | ".join(lines) if lines else ""


def _meta(assessment: encounter_pb2.Assessment) -> JSON:
    return {
        "tag": [
            {"system": KB_VERSION_SYSTEM, "code": assessment.kb_version or "unknown"},
            {
                "system": NOTICE_SYSTEM,
                "code": "decision-support",
                "display": assessment.disclaimer or "Decision support, not a diagnosis.",
            },
        ]
    }


def assessment_bundle(assessment: encounter_pb2.Assessment, kb: KnowledgeBase | None = None) -> dict[str, Any]:
    """The assessment as a FHIR R4B collection Bundle (JSON-ready), validated before return.

    ``kb`` names the triage level in the RiskAssessment note (the local KB unless given)."""
    kb = kb or knowledge_base()
    ids = _Ids(assessment)
    ref = subject(assessment.patient.patient_ref)
    entries: list[JSON] = []
    urls: dict[str, str] = {}
    leading = leading_conditions(assessment.differential)
    leader_id = leading[0].condition_id if leading else ""
    for score in leading:
        url = ids(f"Condition/{score.condition_id}")
        urls[score.condition_id] = url
        resource = _condition(
            score, score.condition_id == leader_id, ref, assessment.kb_version
        )
        entries.append({"fullUrl": url, "resource": resource})
    entries.append(
        {"fullUrl": ids("RiskAssessment"), "resource": _risk_assessment(assessment, ref, kb)}
    )
    for index, test in enumerate(assessment.tests):
        if test.test_id == kb.no_test_id:
            continue
        entries.append(
            {
                "fullUrl": ids(f"ServiceRequest/{index}/{test.test_id}"),
                "resource": _service_request(test, ref, urls),
            }
        )
    entries.append({"fullUrl": ids("CarePlan"), "resource": _care_plan(assessment, ref, urls)})
    raw: JSON = {
        "resourceType": "Bundle",
        "type": "collection",
        "meta": _meta(assessment),
        "entry": entries,
    }
    validated = Bundle.model_validate(raw)
    out: dict[str, Any] = validated.model_dump(mode="json")
    return out


__all__ = ["assessment_bundle", "leading_conditions", "subject"]

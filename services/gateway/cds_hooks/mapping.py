"""FHIR resources from the EHR -> an AssessRequest, driven by data (data/fhir_mapping.yaml).

The intake QuestionnaireResponse's answers become ``QuestionnaireAnswer`` messages: its linkIds
are the intake form's question ids and each answer code is ``question_id|option_id`` (the form
GetIntakeForm publishes, services/intake/form.py); the intake service validates them, so an
unknown linkId comes back as a field violation naming the item. Conditions and Observations
become evidence and context flags only where the YAML says the mapping is clear.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from footcds.v1 import common_pb2, encounter_pb2, intake_pb2
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.convert import SEX_TO_PB
from services.intake.form import FORM_URL

DATA = Path(__file__).resolve().parent / "data" / "fhir_mapping.yaml"
PRESENT, ABSENT = common_pb2.EVIDENCE_STATE_PRESENT, common_pb2.EVIDENCE_STATE_ABSENT
ACTIVE = {"active", "recurrence", "relapse"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConditionRule(_Strict):
    finding: str = ""
    context_flag: str = ""
    icd10cm: list[str] = []
    snomed: list[str] = []

    @model_validator(mode="after")
    def _one_target(self) -> ConditionRule:
        if bool(self.finding) == bool(self.context_flag):
            raise ValueError("a condition rule sets exactly one of finding / context_flag")
        return self


class Threshold(_Strict):
    finding: str
    at_least: float
    below: float | None = None
    unit: str


class ObservationRule(_Strict):
    loinc: str
    citation: str
    finding: str = ""
    present_values: list[str] = []
    absent_values: list[str] = []
    thresholds: list[Threshold] = []


class Coded(_Strict):
    code: str
    display: str


class OverrideReasons(_Strict):
    system: str
    codes: list[Coded] = Field(min_length=1)


class Mapping(_Strict):
    systems: dict[str, str]
    kb_code_systems: dict[str, str]
    conditions: list[ConditionRule]
    observations: list[ObservationRule]
    order_select_tests: list[str]
    override_reasons: OverrideReasons


@cache
def mapping() -> Mapping:
    return Mapping.model_validate(yaml.safe_load(DATA.read_text()))


def patient_ref(fhir_server: str, patient_id: str) -> str:
    """An opaque reference for the suite's audit trail: never the EHR's patient id itself."""
    return "cds-" + hashlib.sha256(f"{fhir_server}|{patient_id}".encode()).hexdigest()[:24]


def entries(bundle_or_resource: dict[str, Any] | None, resource_type: str) -> list[dict[str, Any]]:
    """Resources of a type from a search Bundle (or a single resource)."""
    if not bundle_or_resource:
        return []
    if bundle_or_resource.get("resourceType") == resource_type:
        return [bundle_or_resource]
    out = []
    for entry in bundle_or_resource.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
            out.append(resource)
    return out


def age_on(birth_date: str, today: date) -> int | None:
    try:
        born = date.fromisoformat(birth_date[:10]) if len(birth_date) >= 10 else date(int(birth_date[:4]), 7, 1)
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def patient_context(patient: dict[str, Any], ref: str, today: date | None = None) -> common_pb2.PatientContext:
    sex = SEX_TO_PB.get(str(patient.get("gender", "")), common_pb2.SEX_UNSPECIFIED)
    context = common_pb2.PatientContext(patient_ref=ref, sex=sex)
    age = age_on(str(patient.get("birthDate", "")), today or datetime.now(UTC).date())
    if age is not None and 0 <= age <= 130:
        context.age_years = age
    return context


def _answers_of(items: list[dict[str, Any]], out: dict[str, list[str]]) -> None:
    for item in items:
        for answer in item.get("answer") or []:
            coding = answer.get("valueCoding") or {}
            code = str(coding.get("code", ""))
            if coding.get("system") in (FORM_URL, None) and "|" in code:
                question, _, option = code.partition("|")
            else:
                question, option = str(item.get("linkId", "")), code
            if question and option:
                out.setdefault(question, []).append(option)
            _answers_of(answer.get("item") or [], out)
        _answers_of(item.get("item") or [], out)


def questionnaire_answers(response: dict[str, Any]) -> list[common_pb2.QuestionnaireAnswer]:
    """linkId (the intake form's question id) -> the chosen option ids, in form order."""
    found: dict[str, list[str]] = {}
    _answers_of(response.get("item") or [], found)
    return [common_pb2.QuestionnaireAnswer(question_id=q, option_ids=o) for q, o in found.items()]


def latest(responses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest completed intake (by ``authored``); in-progress ones are not an intake yet."""
    done = [r for r in responses if r.get("status") in ("completed", "amended")]
    return max(done, key=lambda r: str(r.get("authored", "")), default=None)


def _codes(concept: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(str(c.get("system", "")), str(c.get("code", ""))) for c in (concept or {}).get("coding") or []]


def _status(concept: dict[str, Any] | None) -> str:
    codes = _codes(concept)
    return codes[0][1] if codes else ""


def condition_evidence(conditions: list[dict[str, Any]]) -> tuple[dict[str, int], set[str]]:
    """Findings and context flags from the problem list: active -> present, refuted -> absent."""
    m = mapping()
    evidence: dict[str, int] = {}
    flags: set[str] = set()
    for condition in conditions:
        verification = _status(condition.get("verificationStatus"))
        clinical = _status(condition.get("clinicalStatus")) or "active"
        if verification == "entered-in-error":
            continue
        refuted = verification == "refuted"
        if not refuted and clinical not in ACTIVE:
            continue
        for system, code in _codes(condition.get("code")):
            for rule in m.conditions:
                hit = (system == m.systems["icd10cm"] and any(code.startswith(p) for p in rule.icd10cm)) or (
                    system == m.systems["snomed"] and code in rule.snomed)
                if not hit:
                    continue
                if rule.finding:
                    if refuted:
                        evidence.setdefault(rule.finding, ABSENT)
                    else:
                        evidence[rule.finding] = PRESENT
                elif not refuted:
                    flags.add(rule.context_flag)
    return evidence, flags


def observation_evidence(observations: list[dict[str, Any]]) -> dict[str, int]:
    """Findings from coded or numeric Observations; the newest one of each code decides."""
    m = mapping()
    newest: dict[str, dict[str, Any]] = {}
    for obs in observations:
        if obs.get("status") in ("entered-in-error", "cancelled", "preliminary", "registered"):
            continue
        for system, code in _codes(obs.get("code")):
            if system == m.systems["loinc"]:
                when = str(obs.get("effectiveDateTime") or obs.get("issued") or "")
                if code not in newest or when > str(newest[code].get("effectiveDateTime") or ""):
                    newest[code] = obs
    evidence: dict[str, int] = {}
    for rule in m.observations:
        chosen = newest.get(rule.loinc)
        if chosen is None:
            continue
        values = {c for _, c in _codes(chosen.get("valueCodeableConcept"))}
        if rule.finding and values & set(rule.present_values):
            evidence[rule.finding] = PRESENT
        elif rule.finding and values & set(rule.absent_values):
            evidence[rule.finding] = ABSENT
        quantity = chosen.get("valueQuantity") or {}
        if rule.thresholds and isinstance(quantity.get("value"), int | float):
            value = float(quantity["value"])
            for t in rule.thresholds:
                if value >= t.at_least and (t.below is None or value < t.below):
                    evidence[t.finding] = PRESENT
    return evidence


def answered_findings(
    form: intake_pb2.GetIntakeFormResponse, answers: list[common_pb2.QuestionnaireAnswer]
) -> set[str]:
    """Every finding the intake answers set, present or absent (from the form's options)."""
    options = {(q.question_id, o.option_id): o for q in form.questions for o in q.options}
    out: set[str] = set()
    for answer in answers:
        for option_id in answer.option_ids:
            option = options.get((answer.question_id, option_id))
            if option is not None:
                out.update(option.sets_present)
                out.update(option.sets_absent)
    return out


def assess_request(
    patient: dict[str, Any], ref: str, intake: dict[str, Any] | None,
    conditions: list[dict[str, Any]], observations: list[dict[str, Any]],
    form: intake_pb2.GetIntakeFormResponse | None = None,
) -> encounter_pb2.AssessRequest:
    """The AssessRequest for a patient: intake answers first, then the record's evidence.

    Evidence from the record never overrides an answer the intake gave (the intake service
    reports a contradiction otherwise): the patient's own answer is the newer information.
    """
    context = patient_context(patient, ref)
    found, flags = condition_evidence(conditions)
    found.update(observation_evidence(observations))
    context.context_flags.extend(sorted(flags))
    answers = questionnaire_answers(intake) if intake else []
    if form is not None:
        for finding in answered_findings(form, answers):
            found.pop(finding, None)
    evidence = [common_pb2.Evidence(finding_id=f, state=s) for f, s in sorted(found.items())]  # type: ignore[arg-type]
    # No FHIR Bundle: it doubles Assess's time (measured: bench cds.patient_view) and the EHR
    # already holds the data; the card carries orders, the link the assessment.
    return encounter_pb2.AssessRequest(patient=context, evidence=evidence, answers=answers)

"""An Assessment as CDS Hooks cards: what the clinician sees in the EHR.

The gateway adds no clinical judgement: the indicator is the suite's triage (emergency ->
critical, urgent -> warning, otherwise info), the detail is the differential with its evidence,
the suggested orders are the work-up's first tests. Red flags lead: an emergency card's summary
starts with EMERGENCY and names the red flag before anything else.
"""

from __future__ import annotations

import uuid
from typing import Any

from footcds.v1 import common_pb2, encounter_pb2

from services.gateway.cds_hooks.mapping import mapping
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.wire.convert import PB_TO_TIER, PB_TO_TRIAGE

INDICATOR: dict[int, str] = {common_pb2.TRIAGE_LEVEL_EMERGENCY: "critical", common_pb2.TRIAGE_LEVEL_URGENT: "warning"}
PRIORITY: dict[int, str] = {common_pb2.TRIAGE_LEVEL_EMERGENCY: "stat", common_pb2.TRIAGE_LEVEL_URGENT: "urgent"}
KIND_SYSTEM = "urn:footcds:cds-hooks:card-kind"
SUMMARY_MAX = 139  # the spec: "<140 characters"
MAX_SUGGESTED_TESTS = 3
MAX_CONDITIONS = 5


def new_uuid() -> str:
    return str(uuid.uuid4())


def indicator_of(level: int) -> str:
    return INDICATOR.get(level, "info")


def triage_name(level: int) -> str:
    return str(PB_TO_TRIAGE.get(level, "routine"))  # type: ignore[call-overload]


def triage_word(level: int, kb: KnowledgeBase | None = None) -> str:
    """What a card calls the triage level (triage.yaml ``labels.card``)."""
    return (kb or knowledge_base()).triage_label(triage_name(level), "card")


def clip(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def source(base_url: str, kind: str, display: str) -> dict[str, Any]:
    return {"label": "FootCDS - decision support for clinicians", "url": f"{base_url}/cds-services",
            "topic": {"system": KIND_SYSTEM, "code": kind, "display": display}}


def override_reasons() -> list[dict[str, str]]:
    reasons = mapping().override_reasons
    return [{"system": reasons.system, "code": c.code, "display": c.display} for c in reasons.codes]


def fhir_codes(codes: Any) -> list[dict[str, str]]:
    systems = mapping().kb_code_systems
    out, seen = [], set()
    for code in codes:
        system = systems.get(code.system)
        if system and system not in seen:  # one code per system: CPT variants are not synonyms
            seen.add(system)
            out.append({"system": system, "code": code.code, **({"display": code.display} if code.display else {})})
    return out


def service_request(test: common_pb2.TestRecommendation, assessment: encounter_pb2.Assessment,
                    context: dict[str, Any], priority: str) -> dict[str, Any]:
    """A draft ServiceRequest (intent proposal) for a recommended test, coded from the KB."""
    reasons = []
    by_id = {c.condition_id: c for c in assessment.differential.conditions}
    for condition_id in test.condition_ids[:3]:
        condition = by_id.get(condition_id)
        if condition is not None:
            reasons.append({"coding": fhir_codes(condition.codes), "text": condition.label})
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "status": "draft", "intent": "proposal", "priority": priority,
        "code": {"coding": fhir_codes(test.codes), "text": test.label},
        "subject": {"reference": f"Patient/{context['patientId']}"},
        "note": [{"text": f"FootCDS decision support (for the clinician to decide): {test.rationale}"}],
    }
    if not resource["code"]["coding"]:
        del resource["code"]["coding"]
    if reasons:
        resource["reasonCode"] = reasons
    if context.get("encounterId"):
        resource["encounter"] = {"reference": f"Encounter/{context['encounterId']}"}
    return resource


def summary(assessment: encounter_pb2.Assessment, kb: KnowledgeBase | None = None) -> str:
    triage = assessment.triage
    word = triage_word(triage.level, kb)
    leading = assessment.differential.conditions[0].label if assessment.differential.conditions else "no clear cause"
    if triage.red_flags:
        flag = triage.red_flags[0].description.rstrip(".")
        return clip(f"{word}: red flag - {flag}")
    first = assessment.tests[0].label if assessment.tests else ""
    return clip(f"{word}: {leading} most likely" + (f"; first test {first}" if first else ""))


def detail(assessment: encounter_pb2.Assessment, kb: KnowledgeBase | None = None) -> str:
    triage = assessment.triage
    lines = [f"**Triage: {triage_word(triage.level, kb)}**" + (f" - {triage.advice}" if triage.advice else "")]
    lines += [f"- {reason}" for reason in triage.reasons]
    if triage.red_flags:
        lines += ["", "**Red flags**"] + [f"- {flag.description}" for flag in triage.red_flags]
    lines += ["", "### Differential", "", "| Condition | Probability | Evidence for | Evidence against |",
              "|---|---|---|---|"]
    for c in assessment.differential.conditions[:MAX_CONDITIONS]:
        mark = " (don't miss)" if c.dont_miss else ""
        lines.append(f"| {_cell(c.label)}{mark} | {c.probability:.0%} | "
                     f"{_cell(', '.join(w.label for w in c.evidence_for[:4])) or '-'} | "
                     f"{_cell(', '.join(w.label for w in c.evidence_against[:3])) or '-'} |")
    shown = {c.condition_id for c in assessment.differential.conditions[:MAX_CONDITIONS]}
    others = [c for c in assessment.differential.dont_miss if c.condition_id not in shown]
    if others:
        lines += ["", "**Don't miss:** " + ", ".join(f"{c.label} ({c.probability:.0%})" for c in others)]
    if assessment.tests:
        lines += ["", "### Tests"]
        lines += [f"- **{t.label}** ({PB_TO_TIER.get(t.tier, 'unspecified').replace('_', ' ')}): {t.rationale}"
                  for t in assessment.tests]
    lines += ["", f"_{assessment.disclaimer or 'Decision support for a clinician, not a diagnosis.'}_ "
              f"Knowledge base {assessment.kb_version}."]
    return "\n".join(lines)


def first_tests(assessment: encounter_pb2.Assessment) -> list[common_pb2.TestRecommendation]:
    early = [t for t in assessment.tests if t.tier in (common_pb2.TEST_TIER_IMMEDIATE, common_pb2.TEST_TIER_FIRST_LINE)
             and t.test_id != knowledge_base().no_test_id]
    return early[:MAX_SUGGESTED_TESTS]


def patient_view_card(assessment: encounter_pb2.Assessment, context: dict[str, Any], base_url: str,
                      ref: str) -> tuple[dict[str, Any], str, list[str]]:
    """The card, its kind (for metrics and feedback) and its suggestion uuids."""
    level = assessment.triage.level
    kind = f"assessment-{triage_name(level)}"
    priority = PRIORITY.get(level, "routine")
    suggestions: list[dict[str, Any]] = []
    for i, test in enumerate(first_tests(assessment)):
        test_priority = "stat" if test.tier == common_pb2.TEST_TIER_IMMEDIATE else priority
        suggestions.append({
            "label": f"Order {test.label}", "uuid": new_uuid(), "isRecommended": i == 0,
            "actions": [{"type": "create", "description": f"Propose {test.label} ({test_priority})",
                         "resource": service_request(test, assessment, context, test_priority)}],
        })
    card: dict[str, Any] = {
        "uuid": new_uuid(), "summary": summary(assessment), "detail": detail(assessment),
        "indicator": indicator_of(level), "source": source(base_url, kind, "FootCDS foot/leg numbness assessment"),
        "overrideReasons": override_reasons(),
        "links": [{"label": "Full assessment (FootCDS clinician view)", "url": f"{base_url}/staff/assessments/{ref}",
                   "type": "absolute"}],
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card, kind, [s["uuid"] for s in suggestions]

"""order-select: is the selected imaging / EMG / nerve conduction order the best next test?

The draft order is identified by its codes (CPT / LOINC of the knowledge base's test
catalogue, services/knowledge/data/tests.yaml). The best next test is the work-up's first
recommendation for this patient (RecommendTests inside the suite's Assess); the gateway only
compares. Three answers: the selected test is the right next one (info card); it is right but
needs doing now (update the draft's priority to stat); or another test should come first
(delete the draft, create the better one) - e.g. nerve conduction before an MRI of the foot
for suspected tarsal tunnel, a lumbar MRI now for suspected cauda equina.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from footcds.v1 import common_pb2, encounter_pb2

from services.gateway.cds_hooks.cards import (
    clip,
    new_uuid,
    override_reasons,
    service_request,
    source,
    triage_word,
)
from services.gateway.cds_hooks.mapping import entries, mapping
from services.knowledge import knowledge_base

RANK = {"stat": 4, "asap": 3, "urgent": 2, "routine": 1}


@cache
def test_by_code() -> dict[tuple[str, str], str]:
    """(FHIR system, code) -> KB test id, for every test FootCDS comments on in order-select."""
    systems = mapping().kb_code_systems
    kb = knowledge_base()
    out: dict[tuple[str, str], str] = {}
    for test_id in mapping().order_select_tests:
        test = kb.tests[test_id]
        for code in test.cpt:
            out[(systems["CPT"], code)] = test_id
        for code in test.loinc:
            out[(systems["LOINC"], code)] = test_id
    return out


def test_of(order: dict[str, Any]) -> str | None:
    index = test_by_code()
    for coding in (order.get("code") or {}).get("coding") or []:
        found = index.get((str(coding.get("system", "")), str(coding.get("code", ""))))
        if found:
            return found
    return None


def selected_orders(context: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The selected draft ServiceRequests FootCDS has an opinion on, with their test ids."""
    selections = set(context.get("selections") or [])
    out = []
    for order in entries(context.get("draftOrders"), "ServiceRequest"):
        ref = f"ServiceRequest/{order.get('id', '')}"
        test_id = test_of(order)
        if (not selections or ref in selections) and test_id is not None:
            out.append((order, test_id))
    return out


def _label(test_id: str) -> str:
    return knowledge_base().tests[test_id].label


def order_card(order: dict[str, Any], test_id: str, assessment: encounter_pb2.Assessment,
               context: dict[str, Any], base_url: str) -> tuple[dict[str, Any], str, list[str]] | None:
    tests = [t for t in assessment.tests if t.test_id != knowledge_base().no_test_id]
    if not tests:
        return None
    best = tests[0]
    level = assessment.triage.level
    word = triage_word(level)
    leading = assessment.differential.conditions[0].label if assessment.differential.conditions else "the picture"
    order_ref = f"ServiceRequest/{order.get('id', '')}"
    same_tier = [t.test_id for t in tests if t.tier == best.tier]
    emergency = level == common_pb2.TRIAGE_LEVEL_EMERGENCY
    needed = "stat" if best.tier == common_pb2.TEST_TIER_IMMEDIATE or emergency else "routine"
    suggestions: list[dict[str, Any]] = []
    if test_id in same_tier:
        if RANK.get(str(order.get("priority", "routine")), 1) < RANK[needed]:
            kind, indicator = "order-priority", "critical" if emergency else "warning"
            text = clip(f"{word}: {_label(test_id)} is right for suspected {leading} - order it {needed} now")
            updated = {**order, "priority": needed}
            suggestions.append({"label": f"Make {_label(test_id)} {needed}", "uuid": new_uuid(), "isRecommended": True,
                                "actions": [{"type": "update", "description": f"Set priority {needed}",
                                             "resource": updated}]})
        else:
            kind, indicator = "order-confirmed", "critical" if emergency else "info"  # red flags still lead
            text = clip(("EMERGENCY: " if emergency else "") +
                        f"{_label(test_id)} is the recommended next test for suspected {leading}")
    else:
        kind, indicator = "order-better-test", "critical" if emergency else "warning"
        text = clip(f"{word}: {best.label} before {_label(test_id)} for suspected {leading}")
        now = best.tier == common_pb2.TEST_TIER_IMMEDIATE or emergency
        priority = "stat" if now else str(order.get("priority") or "routine")
        suggestions.append({
            "label": f"Replace with {best.label}", "uuid": new_uuid(), "isRecommended": True,
            "actions": [
                {"type": "delete", "description": f"Remove the draft {_label(test_id)}", "resourceId": order_ref},
                {"type": "create", "description": f"Propose {best.label} ({priority})",
                 "resource": service_request(best, assessment, context, priority)},
            ],
        })
    why = "\n".join(f"- **{t.label}**: {t.rationale}" for t in tests[:4])
    detail = (f"Selected: **{_label(test_id)}** ({order.get('priority', 'routine')}). Suspected: **{leading}** "
              f"(triage {word}).\n\nRecommended order of tests:\n{why}\n\n"
              f"_{assessment.disclaimer or 'Decision support for a clinician, not a diagnosis.'}_")
    card: dict[str, Any] = {"uuid": new_uuid(), "summary": text, "detail": detail, "indicator": indicator,
                            "source": source(base_url, kind, "FootCDS test choice"),
                            "overrideReasons": override_reasons()}
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    return card, kind, [s["uuid"] for s in suggestions]

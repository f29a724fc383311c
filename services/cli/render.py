"""An Assessment as JSON (for machines) and as a readable report (for clinicians)."""

from __future__ import annotations

from typing import Any

from footcds.v1 import common_pb2, encounter_pb2
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.wire.convert import PB_TO_STAGE, PB_TO_STATE, PB_TO_TIER, PB_TO_TRIAGE

# Presentation only (the panel's colours per level id); the words are the KB's (``labels.console``).
TRIAGE_STYLE = {"emergency": "bold white on red", "urgent": "bold red", "routine": "yellow", "self_care": "green"}


def _codes(codes: Any, system: str) -> list[str]:
    return [c.code for c in codes if c.system == system]


def condition_json(c: common_pb2.ConditionScore) -> dict[str, Any]:
    def weights(items: Any) -> list[dict[str, Any]]:
        return [
            {"finding": w.finding_id, "label": w.label, "state": PB_TO_STATE[w.state].value,
             "log_likelihood_ratio": round(w.log_likelihood_ratio, 3)}
            for w in items
        ]

    return {
        "condition": c.condition_id,
        "label": c.label,
        "probability": round(c.probability, 4),
        "icd10cm": _codes(c.codes, "ICD-10-CM"),
        "snomed": next(iter(_codes(c.codes, "SNOMED CT")), None),
        "emergency": c.emergency,
        "dont_miss": c.dont_miss,
        "unlikely": c.unlikely,
        "evidence_for": weights(c.evidence_for),
        "evidence_against": weights(c.evidence_against),
        "decisive_findings": list(c.decisive_finding_ids),
        "specialist": c.specialist,
        "citations": [x.source_key for x in c.citations],
    }


def assessment_json(a: encounter_pb2.Assessment) -> dict[str, Any]:
    plan: dict[str, Any] = {stage: [] for stage in ("now", "next_2_6_weeks", "escalation")}
    for item in a.plan.items:
        plan[PB_TO_STAGE[item.stage]].append(
            {"item": item.item_id, "text": item.text, "family": item.family,
             "conditions": list(item.condition_ids), "citations": [c.source_key for c in item.citations]}
        )
    plan.update(
        return_to_run=list(a.plan.return_to_run),
        follow_up_days=a.plan.follow_up_days,
        safety_net=list(a.plan.safety_net),
        conflicts_resolved=list(a.plan.conflicts_resolved),
        hold_running=a.plan.hold_running,
    )
    return {
        "triage": {
            "level": PB_TO_TRIAGE[a.triage.level],
            "reasons": list(a.triage.reasons),
            "red_flags": [
                {"rule": r.rule_id, "description": r.description, "findings": list(r.finding_ids),
                 "suspect": list(r.suspect_condition_ids)}
                for r in a.triage.red_flags
            ],
            "advice": a.triage.advice,
        },
        "differential": [condition_json(c) for c in a.differential.conditions],
        "dont_miss": [condition_json(c) for c in a.differential.dont_miss],
        "tests": [
            {"test": t.test_id, "label": t.label, "tier": PB_TO_TIER.get(t.tier, "unspecified"),
             "rationale": t.rationale, "conditions": list(t.condition_ids),
             "cpt": _codes(t.codes, "CPT"), "loinc": _codes(t.codes, "LOINC"),
             "contraindications": list(t.contraindications_found)}
            for t in a.tests
        ],
        "workup_note": a.workup_note,
        "plan": plan,
        "kb_version": a.kb_version,
        "disclaimer": a.disclaimer,
    }


def print_assessment(a: encounter_pb2.Assessment, console: Console, kb: KnowledgeBase | None = None) -> None:
    """The assessment for a clinician's terminal; ``kb`` names the triage level (the local KB unless given)."""
    kb = kb or knowledge_base()
    data = assessment_json(a)
    triage = data["triage"]
    level = triage["level"]
    body = "\n".join(f"• {r}" for r in triage["reasons"])
    if triage["advice"]:
        body += f"\n\n{triage['advice']}"
    console.print(Panel(body, title=f"TRIAGE: {kb.triage_label(level, 'console', level)}", style=TRIAGE_STYLE[level]))

    table = Table(title="Differential (most likely first)", show_lines=False)
    for col in ("#", "condition", "probability", "ICD-10-CM", "for", "against"):
        table.add_column(col)
    shown = [c for c in data["differential"] if not c["unlikely"]][:8]
    for i, c in enumerate(shown, 1):
        table.add_row(
            str(i), c["label"] + (" [red](emergency)[/red]" if c["emergency"] else ""),
            f"{c['probability']:.1%}", ", ".join(c["icd10cm"]),
            ", ".join(w["finding"] for w in c["evidence_for"][:3]),
            ", ".join(w["finding"] for w in c["evidence_against"][:2]),
        )
    console.print(table)
    unlikely = [c["label"] for c in data["differential"] if c["unlikely"]]
    if unlikely:
        console.print(f"[dim]Considered, unlikely: {', '.join(unlikely)}[/dim]")
    if data["dont_miss"]:
        console.print("[bold red]Don't miss:[/bold red] " + ", ".join(
            f"{c['label']} ({c['probability']:.1%})" for c in data["dont_miss"]))

    tests = Table(title="Tests (do the first one first)")
    for col in ("#", "test", "tier", "why"):
        tests.add_column(col)
    for i, t in enumerate(data["tests"], 1):
        tests.add_row(str(i), t["label"], t["tier"].replace("_", " "), t["rationale"])
    console.print(tests)
    if data["workup_note"]:
        console.print(f"[italic]{data['workup_note']}[/italic]")

    plan = data["plan"]
    for stage, title in (("now", "Now"), ("next_2_6_weeks", "Next 2-6 weeks"), ("escalation", "If no better")):
        if plan[stage]:
            console.print(f"[bold]{title}[/bold]")
            for item in plan[stage]:
                console.print(f"  • {item['text']}")
    for key, title in (("return_to_run", "Return to run"), ("safety_net", "Come back now if"),
                       ("conflicts_resolved", "Plan notes")):
        if plan[key]:
            console.print(f"[bold]{title}[/bold]")
            for line in plan[key]:
                console.print(f"  • {line}")
    console.print(f"Follow up in {plan['follow_up_days']} days." if plan["follow_up_days"] else "")
    console.print(f"[dim]{data['disclaimer']} Knowledge base {data['kb_version']}.[/dim]")

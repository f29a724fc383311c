"""The clinician view a CDS Hooks card links to: the full assessment as an HTML page.

Same look as the tablet's staff pages (``staff_render.page``); every value is escaped. JSON
clients get the same content as JSON (``assessment_json``) from the same URL.
"""

from __future__ import annotations

from typing import Any

from services.gateway.tablet.staff_render import e, page
from services.knowledge.loader import KnowledgeBase, knowledge_base


def _weights(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{e(w['label'] or w['finding'])} ({w['log_likelihood_ratio']:+.2f})" for w in items[:6]) or "-"


def assessment_html(ref: str, a: dict[str, Any], kb: KnowledgeBase | None = None) -> str:
    """The page; ``kb`` names the triage level (``labels.clinician_view``; the local KB unless given)."""
    kb = kb or knowledge_base()
    triage = a["triage"]
    flags = "".join(f"<li><strong>{e(f['description'])}</strong></li>" for f in triage["red_flags"])
    reasons = "".join(f"<li>{e(r)}</li>" for r in triage["reasons"]) or "<li>-</li>"
    rows = "".join(
        f"<tr><td>{e(c['label'])}{' (don’t miss)' if c['dont_miss'] else ''}</td><td>{c['probability']:.0%}</td>"
        f"<td>{_weights(c['evidence_for'])}</td><td>{_weights(c['evidence_against'])}</td></tr>"
        for c in a["differential"][:8] if not c["unlikely"])
    tests = "".join(f"<tr><td>{e(t['label'])}</td><td>{e(t['tier'].replace('_', ' '))}</td><td>{e(t['rationale'])}</td>"
                    "</tr>" for t in a["tests"])
    plan = a["plan"]
    items = "".join(f"<li>{e(stage.replace('_', ' '))}: {e(i['text'])}</li>"
                    for stage in ("now", "next_2_6_weeks", "escalation") for i in plan[stage])
    safety = "".join(f"<li>{e(s)}</li>" for s in plan["safety_net"])
    body = f"""<h1>FootCDS assessment</h1>
<p class="note">{e(a['disclaimer'])} Knowledge base {e(a['kb_version'])}. Reference {e(ref)}.</p>
<h2>Triage: {e(kb.triage_label(triage['level'], 'clinician_view', triage['level']))}</h2><p>{e(triage['advice'])}</p>
{f'<h3>Red flags</h3><ul>{flags}</ul>' if flags else ''}<ul>{reasons}</ul>
<h2>Differential</h2><table><thead><tr><th scope="col">Condition</th><th scope="col">Probability</th>
<th scope="col">Evidence for</th><th scope="col">Evidence against</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Tests</h2>{f'''<table><thead><tr><th scope="col">Test</th><th scope="col">When</th><th scope="col">Why</th>
</tr></thead><tbody>{tests}</tbody></table>''' if tests else f"<p>{e(a['workup_note'] or 'No test needed now.')}</p>"}
<h2>Plan</h2><ul>{items or '<li>-</li>'}</ul><h3>Come back at once if</h3><ul>{safety or '<li>-</li>'}</ul>"""
    return page("FootCDS assessment", body)

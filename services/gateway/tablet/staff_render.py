"""Staff pages as HTML: the day's intakes (emergencies first) and one full assessment.

Server-rendered, no script: every value is escaped (``html.escape``), nothing comes from
another host. The assessment is the suite's (triage with reasons, differential with its
evidence, tests, plan); this module only lays it out.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from services.gateway.tablet.store import IntakeRecord
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.wire.convert import PB_TO_TRIAGE


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f'<link rel="stylesheet" href="/intake/static/staff.css"></head><body><main>{body}</main></body></html>')


def badge(record: IntakeRecord, kb: KnowledgeBase | None = None) -> str:
    """The record's triage in the KB's words (``labels.record``); an emergency alert shouts."""
    level_id = str(PB_TO_TRIAGE.get(record.triage, ""))  # type: ignore[call-overload]
    kb = kb or knowledge_base()
    level = kb.triage_label(level_id, "record", "not assessed")
    css = "emergency" if record.emergency else level
    shown = kb.triage_label("emergency", "record").upper() if record.emergency else level
    return f'<span class="badge {e(css)}">{e(shown)}</span>'


def login(message: str = "") -> str:
    error = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
    return page("Staff sign-in", f"""<h1>Staff sign-in</h1>{error}
<p>Paste your staff token (scope <code>staff</code>). It is kept for this browser session only.</p>
<form method="post" action="/staff/login" autocomplete="off"><label for="token">Staff token</label>
<input id="token" name="token" type="password" required autocomplete="off" spellcheck="false">
<button type="submit">Sign in</button></form>""")


def intake_list(records: list[IntakeRecord], day: str, kb: KnowledgeBase | None = None) -> str:
    rows = []
    for r in records:
        when = datetime.fromtimestamp(r.completed_at, UTC).strftime("%H:%M:%S UTC")
        flags = "; ".join(r.red_flags) or "—"
        rows.append(f'<tr class="{"emergency" if r.emergency else ""}"><td><a href="/staff/intakes/{e(r.ref)}">'
                    f'{e(r.ref)}</a></td><td>{badge(r, kb)}</td><td>{e(flags)}</td><td>{e(when)}</td>'
                    f'<td>{e(r.questions)}</td><td>{e(r.device)}</td></tr>')
    table = ("<table><caption>Completed intakes, emergencies first</caption><thead><tr><th scope=\"col\">Intake"
             "</th><th scope=\"col\">Triage</th><th scope=\"col\">Red flags</th><th scope=\"col\">Completed</th>"
             "<th scope=\"col\">Questions</th><th scope=\"col\">Tablet</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>") if rows else "<p>No completed intakes yet today.</p>"
    return page("Today's intakes", f"""<h1>Today's intakes ({e(day)})</h1>
<p class="note">Decision support for a clinician, not a diagnosis. Intakes are listed by opaque reference;
ask the patient for theirs at the desk. They expire automatically.</p>{table}
<form method="post" action="/staff/logout"><button type="submit">Sign out</button></form>""")


def _evidence(weights: list[dict[str, Any]]) -> str:
    return ", ".join(f"{e(w.get('label') or w.get('finding_id'))} ({float(w.get('log_likelihood_ratio', 0)):+.2f})"
                     for w in weights[:6]) or "—"


def intake_detail(record: IntakeRecord, kb: KnowledgeBase | None = None) -> str:
    a = record.assessment
    triage = a.get("triage", {})
    reasons = "".join(f"<li>{e(x)}</li>" for x in triage.get("reasons", [])) or "<li>—</li>"
    conditions = a.get("differential", {}).get("conditions", [])
    diff_rows = "".join(
        f"<tr><td>{e(c.get('label', c.get('condition_id')))}{' (emergency)' if c.get('emergency') else ''}"
        f"{' (don’t miss)' if c.get('dont_miss') else ''}</td><td>{float(c.get('probability', 0)):.0%}</td>"
        f"<td>{_evidence(c.get('evidence_for', []))}</td><td>{_evidence(c.get('evidence_against', []))}</td></tr>"
        for c in conditions[:8] if not c.get("unlikely"))
    tests = "".join(f"<tr><td>{e(t.get('label'))}</td><td>{e(str(t.get('tier', '')).removeprefix('TEST_TIER_'))}"
                    f"</td><td>{e(t.get('rationale', ''))}</td></tr>" for t in a.get("tests", []))
    plan = a.get("plan", {})
    items = "".join(f"<li>{e(str(i.get('stage', '')).removeprefix('PLAN_STAGE_').lower())}: {e(i.get('text'))}</li>"
                    for i in plan.get("items", []))
    safety = "".join(f"<li>{e(s)}</li>" for s in plan.get("safety_net", []))
    ref = e(record.ref)
    tests_html = (f'<table><thead><tr><th scope="col">Test</th><th scope="col">When</th><th scope="col">Why</th>'
                  f'</tr></thead><tbody>{tests}</tbody></table>' if tests
                  else f"<p>{e(a.get('workup_note') or 'No test needed now.')}</p>")
    if not a:
        body = "<p>No answer was given (every question answered “I don’t know”): nothing to assess.</p>"
    else:
        body = f"""<h2>Triage</h2><p>{badge(record, kb)} {e(triage.get('advice', ''))}</p><ul>{reasons}</ul>
<h2>Differential</h2><table><thead><tr><th scope="col">Condition</th><th scope="col">Probability</th>
<th scope="col">Evidence for</th><th scope="col">Evidence against</th></tr></thead><tbody>{diff_rows}</tbody></table>
<h2>Tests</h2>{tests_html}
<h2>Plan</h2><ul>{items or '<li>—</li>'}</ul><h3>Come back at once if</h3><ul>{safety or '<li>—</li>'}</ul>"""
    answers = "".join(
        f"<li>{e(i.get('text') or i.get('linkId'))}: "
        f"{e(', '.join(str(x.get('valueCoding', {}).get('display', '')) for x in i.get('answer', [])))}</li>"
        for i in record.questionnaire_response.get("item", []))
    return page(f"Intake {record.ref}", f"""<p><a href="/staff">← Today's intakes</a></p>
<h1>Intake {ref}</h1><p class="note">{e(a.get('disclaimer', 'Decision support for a clinician, not a diagnosis.'))}
 Knowledge base {e(record.kb_version)}.</p>{body}
<h2>Answers</h2><ol>{answers}</ol>
<h2>FHIR</h2><ul><li><a href="/staff/intakes/{ref}/QuestionnaireResponse">QuestionnaireResponse (JSON)</a></li>
<li><a href="/staff/intakes/{ref}/Bundle">Bundle for the EHR (JSON)</a></li></ul>
<details><summary>Bundle preview</summary><pre>{e(json.dumps(record.bundle, indent=1)[:20000])}</pre></details>""")

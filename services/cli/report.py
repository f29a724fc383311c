"""report.html: one self-contained page for the team's clinician (inline SVG, no network).

Athletes by triage, the likely causes across the team, who needs follow-up (emergencies
first), team advice and the rows that could not be screened.  Every value that came from
the roster is HTML-escaped; nothing is fetched (no scripts, fonts, images or links out), so
the file can be mailed, archived and opened offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from footcds.v1 import encounter_pb2

from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.pipeline.team import TRIAGE_NAMES

# Presentation only (a bar's colour per level id); the words are the KB's (triage.yaml ``labels.report``).
TRIAGE_COLOURS = {"emergency": "#c62828", "urgent": "#ef6c00", "routine": "#1565c0", "self_care": "#2e7d32"}
MAX_CAUSES = 12
CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#1b1b1b;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:8px 12px;margin:12px 0}
.stats{display:flex;gap:16px;flex-wrap:wrap}.stat{background:#f5f5f5;border-radius:6px;padding:8px 14px}
.stat b{display:block;font-size:22px}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e0e0e0;vertical-align:top}
th{background:#fafafa}td:nth-child(2){white-space:nowrap}.lvl{font-weight:600}.emergency{color:#c62828}.urgent{color:#ef6c00}
svg text{font:13px system-ui,sans-serif;fill:#1b1b1b}footer{margin-top:32px;color:#555;font-size:13px}
"""


def _level(level: int) -> str:
    return TRIAGE_NAMES.get(level, "unspecified")  # type: ignore[call-overload, no-any-return]


def triage_chart(summary: encounter_pb2.TeamSummary, kb: KnowledgeBase | None = None) -> str:
    """Vertical bars, one per triage level, most urgent first."""
    kb = kb or knowledge_base()
    counts = [(_level(t.level), t.count) for t in summary.by_triage]
    top = max([c for _, c in counts] + [1])
    width, height, base, bar = 520, 260, 210, 80
    parts = [
        f'<svg id="chart-triage" role="img" aria-labelledby="chart-triage-title" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        '<title id="chart-triage-title">Screened athletes by triage level</title>',
        f'<line x1="20" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>',
    ]
    for i, (name, count) in enumerate(counts):
        h = round(170 * count / top)
        x = 40 + i * 120
        parts.append(
            f'<rect class="bar" data-level="{name}" data-count="{count}" x="{x}" y="{base - h}" width="{bar}" '
            f'height="{h}" fill="{TRIAGE_COLOURS.get(name, "#777")}"/>'
        )
        parts.append(f'<text x="{x + bar / 2}" y="{base - h - 6}" text-anchor="middle">{count}</text>')
        label = escape(kb.triage_label(name, "report", name))
        parts.append(f'<text x="{x + bar / 2}" y="{base + 20}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def causes_chart(summary: encounter_pb2.TeamSummary) -> str:
    """Horizontal bars: how many athletes lead with each condition, most frequent first."""
    causes = list(summary.top_conditions)[:MAX_CAUSES]
    top = max([c.count for c in causes] + [1])
    row, label_w, width = 26, 330, 900
    height = 20 + row * max(len(causes), 1)
    parts = [
        f'<svg id="chart-causes" role="img" aria-labelledby="chart-causes-title" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        '<title id="chart-causes-title">Most likely cause per athlete, across the team</title>',
    ]
    if not causes:
        parts.append('<text x="10" y="24">No athlete was screened.</text>')
    for i, cause in enumerate(causes):
        y = 10 + i * row
        w = max(round((width - label_w - 60) * cause.count / top), 2)
        label = cause.label if len(cause.label) <= 46 else cause.label[:45] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect class="bar" data-condition="{escape(cause.condition_id)}" data-count="{cause.count}" '
            f'x="{label_w}" y="{y}" width="{w}" height="{row - 8}" fill="#5c6bc0"/>'
        )
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 15}">{cause.count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _follow_up_table(summary: encounter_pb2.TeamSummary, labels: dict[str, str], kb: KnowledgeBase) -> str:
    if not summary.follow_up:
        return "<p>No athlete was triaged urgent or emergency.</p>"
    rows = "".join(
        f'<tr><td>{f.row_number}</td><td>{escape(f.athlete_ref)}</td>'
        f'<td class="lvl {_level(f.triage)}">{escape(kb.triage_label(_level(f.triage), "report"))}</td>'
        f"<td>{escape(labels.get(f.leading_condition_id, f.leading_condition_id))}</td>"
        f"<td>{escape(f.reason)}</td></tr>"
        for f in summary.follow_up
    )
    return (
        '<table id="follow-up"><thead><tr><th>Row</th><th>Athlete</th><th>Triage</th>'
        f"<th>Leading condition</th><th>Why</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _rejected_table(results: Sequence[encounter_pb2.AthleteResult], problems: dict[int, list[str]]) -> str:
    bad = [r for r in results if r.status == encounter_pb2.ATHLETE_STATUS_REJECTED]
    if not bad:
        return "<p>Every row was screened.</p>"
    rows = "".join(
        f"<tr><td>{r.row_number}</td><td>{escape(r.athlete_ref)}</td>"
        f"<td>{'<br>'.join(escape(p) for p in problems.get(r.row_number, []))}</td></tr>"
        for r in bad
    )
    return (
        '<table id="rejected"><thead><tr><th>Row</th><th>Athlete</th><th>Problem (column: what is wrong)</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def render_report(
    summary: encounter_pb2.TeamSummary,
    results: Sequence[encounter_pb2.AthleteResult],
    problems: dict[int, list[str]],
    *,
    kb_version: str,
    disclaimer: str,
    kb: KnowledgeBase | None = None,
) -> str:
    """The whole page as one string; ``problems`` maps a rejected row to its column messages.

    ``kb`` names the triage levels (the local knowledge base unless given)."""
    kb = kb or knowledge_base()
    labels = {c.condition_id: c.label for c in summary.top_conditions}
    title = "Team screening" + (f": {summary.team_label}" if summary.team_label else "")
    advice = (
        "<ul id=\"team-advice\">" + "".join(f"<li>{escape(a)}</li>" for a in summary.team_advice) + "</ul>"
        if summary.team_advice
        else "<p>No cause clusters enough across the team for team-level advice.</p>"
    )
    stats = "".join(
        f'<div class="stat"><b>{value}</b>{escape(name)}</div>'
        for name, value in (
            ("athletes", summary.total),
            ("screened", summary.screened),
            ("rejected rows", summary.rejected),
            ("need follow-up", len(summary.follow_up)),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<div class="note"><b>Decision support, not a diagnosis.</b> {escape(disclaimer)}</div>
<div class="stats">{stats}</div>
<h2>Athletes by triage</h2>
{triage_chart(summary, kb)}
<h2>Likely causes across the team</h2>
{causes_chart(summary)}
<h2>Follow-up (emergencies first)</h2>
{_follow_up_table(summary, labels, kb)}
<h2>Team advice</h2>
{advice}
<h2>Rows not screened</h2>
{_rejected_table(results, problems)}
<footer>FootCDS knowledge base {escape(kb_version)}. Each athlete's full assessment (differential with
reasons, tests, staged plan) is one <code>footcds assess</code> away.</footer>
</body></html>
"""

"""`footcds screen ROSTER.csv` and `footcds roster synth`: a whole team through the suite.

``screen`` submits the roster (SubmitScreening), shows a live progress bar fed by
WatchScreening, streams the per-athlete results and fetches the team summary, then writes
results.csv (every input row, screened or rejected with its columns named), summary.json
and, on request, report.html.  ``--local`` runs the same chunks in-process.
Exit codes: 0 ok (rejected rows are reported, not fatal), 2 the file cannot be read,
3 the suite is unreachable, too slow, or the screening failed, 4 not authenticated or not
allowed (FOOTCDS_TOKEN, as for `footcds assess`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from footcds.v1 import encounter_pb2, encounter_pb2_grpc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from services.cli import connect
from services.cli.report import render_report
from services.cli.roster import (
    Roster,
    RosterError,
    column_of,
    in_roster_words,
    read_roster,
    synthesize,
    write_roster,
)
from services.pipeline.team import TRIAGE_NAMES, Tally
from services.platform.config import settings

err = connect.err
EXIT_BAD_INPUT, EXIT_UNAVAILABLE = connect.EXIT_BAD_INPUT, connect.EXIT_UNAVAILABLE
RESULT_COLUMNS = (
    "row", "athlete_id", "status", "triage", "leading_condition", "leading_probability", "top_conditions",
    "first_test", "triage_reason", "plan_highlights", "problems", "kb_version",
)
RESULTS_PER_MESSAGE = 500  # GetScreeningResults pages (at most 1,000 and about 1 MiB each)
STATE_NAMES = {
    encounter_pb2.SCREENING_STATE_QUEUED: "queued",
    encounter_pb2.SCREENING_STATE_RUNNING: "running",
    encounter_pb2.SCREENING_STATE_DONE: "done",
    encounter_pb2.SCREENING_STATE_FAILED: "failed",
}

roster_app = typer.Typer(help="Roster files for team screening.", no_args_is_help=True)


@dataclass
class Screened:
    """A finished screening: every row's result, the team summary, and the version used."""

    results: list[encounter_pb2.AthleteResult]
    summary: encounter_pb2.TeamSummary
    kb_version: str
    disclaimer: str
    screening_id: str = ""
    duplicate: bool = False


class ScreeningFailed(RuntimeError):
    """The suite could not screen the roster (unreachable, too slow or failed)."""


def _level(level: int) -> str:
    return TRIAGE_NAMES.get(level, "")  # type: ignore[call-overload, no-any-return]


def _triage_text(tally_counts: Any) -> str:
    return "  ".join(f"{_level(t.level)} {t.count}" for t in tally_counts if t.count)


# --- running a roster -------------------------------------------------------------------------


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]screening[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=err, transient=False,
    )


def screen_remote(
    roster: Roster, *, address: str, key: str, team_label: str, timeout: float, show_progress: bool = True
) -> Screened:
    """Submit, watch, stream results, fetch the summary; the deadline covers the whole run."""
    request = encounter_pb2.SubmitScreeningRequest(
        idempotency_key=key, athletes=roster.entries, team_label=team_label
    )
    options = [("grpc.max_send_message_length", settings().max_message_bytes),
               ("grpc.max_receive_message_length", settings().max_message_bytes)]
    with connect.open_channel(address, options) as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        submitted = stub.SubmitScreening(request, timeout=min(timeout, 60))
        last = None
        with _progress_bar() if show_progress else _NoProgress() as bar:
            task = bar.add_task("", total=submitted.total)
            for update in stub.WatchScreening(
                encounter_pb2.WatchScreeningRequest(screening_id=submitted.screening_id), timeout=timeout
            ):
                last = update
                bar.update(task, completed=update.done, total=update.total,
                           description=f"{STATE_NAMES.get(update.state, '')}  {_triage_text(update.by_triage)}")
        if last is None or last.state != encounter_pb2.SCREENING_STATE_DONE:
            message = last.message if last is not None else "no progress was reported"
            raise ScreeningFailed(f"the screening did not finish: {message or 'the deadline passed'}")
        # The server builds the summary while this process reads the results stream.
        pending = stub.GetScreeningSummary.future(
            encounter_pb2.GetScreeningSummaryRequest(screening_id=submitted.screening_id), timeout=timeout
        )
        # Pages of results (a message per athlete cost both ends ~20-90 us more each); a server
        # older than the field ignores it and sends one result per message in `result`.
        results: list[encounter_pb2.AthleteResult] = []
        for r in stub.GetScreeningResults(
            encounter_pb2.GetScreeningResultsRequest(
                screening_id=submitted.screening_id, results_per_message=RESULTS_PER_MESSAGE
            ),
            timeout=timeout,
        ):
            if r.results:
                results.extend(r.results)
            else:
                results.append(r.result)
        summary = pending.result()
    return Screened(results, summary.summary, summary.kb_version, summary.disclaimer,
                    submitted.screening_id, submitted.duplicate)


def screen_local(roster: Roster, *, team_label: str, chunk_size: int, show_progress: bool = True) -> Screened:
    """The same chunks through the services' batch handlers in this process."""
    from services.knowledge.loader import knowledge_base
    from services.pipeline.screening import LocalBatchCalls, screen_roster
    from services.pipeline.team import summarize

    kb = knowledge_base()
    with _progress_bar() if show_progress else _NoProgress() as bar:
        task = bar.add_task("", total=len(roster.entries))

        def on_progress(tally: Tally) -> None:
            bar.update(task, completed=tally.done, description=f"local  {_triage_text(tally.triage_counts())}")

        results = screen_roster(roster.entries, LocalBatchCalls(), chunk_size, on_progress)
    summary = summarize(kb, results, total=len(roster.entries), state=encounter_pb2.SCREENING_STATE_DONE,
                        team_label=team_label)
    return Screened(results, summary, kb.version, kb.disclaimer)


class _NoProgress:
    """A silent stand-in for the progress bar (benchmarks, --quiet)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: int) -> TaskID:
        return TaskID(0)

    def update(self, task: TaskID, **fields: Any) -> None:
        return None


def with_roster_rejections(screened: Screened, roster: Roster) -> Screened:
    """Fold the rows rejected while reading the file into the results and the summary."""
    if not roster.rejected:
        return screened
    results = sorted([*screened.results, *roster.rejected], key=lambda r: r.row_number)
    summary = encounter_pb2.TeamSummary()
    summary.CopyFrom(screened.summary)
    summary.total += len(roster.rejected)
    summary.rejected += len(roster.rejected)
    return Screened(results, summary, screened.kb_version, screened.disclaimer,
                    screened.screening_id, screened.duplicate)


# --- writing the files ---------------------------------------------------------------------


def problems_by_row(results: list[encounter_pb2.AthleteResult], roster: Roster) -> dict[int, list[str]]:
    """Each rejected row's problems in the roster's own column names."""
    return {
        r.row_number: [
            f"{column_of(v.field, roster.present_counts.get(r.row_number, 0))}: {in_roster_words(v.description)}"
            for v in r.violations
        ]
        for r in results
        if r.status == encounter_pb2.ATHLETE_STATUS_REJECTED
    }


def write_results(path: Path, screened: Screened, problems: dict[int, list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RESULT_COLUMNS)
        for r in screened.results:
            screened_row = r.status == encounter_pb2.ATHLETE_STATUS_SCREENED
            lead = r.top_conditions[0] if r.top_conditions else None
            writer.writerow([
                r.row_number,
                r.athlete_ref,
                "screened" if screened_row else "rejected",
                _level(r.triage) if screened_row else "",
                lead.condition_id if lead else "",
                f"{lead.probability:.3f}" if lead else "",
                "; ".join(f"{c.condition_id} ({c.probability:.2f})" for c in r.top_conditions),
                r.first_test_id,
                r.triage_reasons[0] if r.triage_reasons else "",
                " | ".join(r.plan_highlights),
                " | ".join(problems.get(r.row_number, [])),
                screened.kb_version,
            ])


def summary_json(screened: Screened, problems: dict[int, list[str]]) -> dict[str, Any]:
    s = screened.summary
    return {
        "team_label": s.team_label,
        "state": STATE_NAMES.get(s.state, "unspecified"),
        "total": s.total,
        "screened": s.screened,
        "rejected": s.rejected,
        "by_triage": {_level(t.level): t.count for t in s.by_triage},
        "top_conditions": [{"condition": c.condition_id, "label": c.label, "count": c.count} for c in s.top_conditions],
        "follow_up": [
            {"row": f.row_number, "athlete_id": f.athlete_ref, "triage": _level(f.triage),
             "leading_condition": f.leading_condition_id, "reason": f.reason}
            for f in s.follow_up
        ],
        "team_advice": list(s.team_advice),
        "rejected_rows": [
            {"row": r.row_number, "athlete_id": r.athlete_ref, "problems": problems.get(r.row_number, [])}
            for r in screened.results
            if r.status == encounter_pb2.ATHLETE_STATUS_REJECTED
        ],
        "kb_version": screened.kb_version,
        "disclaimer": screened.disclaimer,
    }


def write_outputs(
    screened: Screened, roster: Roster, out: Path, summary: Path | None, report: Path | None
) -> dict[str, Any]:
    problems = problems_by_row(screened.results, roster)
    write_results(out, screened, problems)
    body = summary_json(screened, problems)
    if summary is not None:
        summary.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    if report is not None:
        report.write_text(
            render_report(screened.summary, screened.results, problems,
                          kb_version=screened.kb_version, disclaimer=screened.disclaimer),
            encoding="utf-8",
        )
    return body


def default_key(roster_path: Path, team_label: str) -> str:
    """The same file and label give the same key: a retried command never screens twice."""
    digest = hashlib.sha256(roster_path.read_bytes())
    digest.update(b"\0" + team_label.encode())
    return f"roster-{digest.hexdigest()[:32]}"


def run_screen(
    roster_path: Path, out: Path, *, summary: Path | None = None, report: Path | None = None,
    local: bool = False, address: str = "", key: str = "", team_label: str = "", timeout: float = 600.0,
    show_progress: bool = True,
) -> tuple[Screened, dict[str, Any]]:
    """CSV in, results (and summary, report) out: what the command does, callable from bench/."""
    roster = read_roster(roster_path)
    if not roster.entries:
        from services.knowledge.loader import knowledge_base
        from services.pipeline.team import summarize

        kb = knowledge_base()
        screened = Screened([], summarize(kb, [], total=0, state=encounter_pb2.SCREENING_STATE_DONE,
                                          team_label=team_label), kb.version, kb.disclaimer)
    elif local:
        screened = screen_local(roster, team_label=team_label, chunk_size=settings().screening_chunk_size,
                                show_progress=show_progress)
    else:
        screened = screen_remote(
            roster, address=address or settings().encounter_addr,
            key=key or default_key(roster_path, team_label), team_label=team_label, timeout=timeout,
            show_progress=show_progress,
        )
    screened = with_roster_rejections(screened, roster)
    return screened, write_outputs(screened, roster, out, summary, report)


def screen(
    roster: Annotated[Path, typer.Argument(help="Roster CSV; see README 'Team screening'.")],
    out: Annotated[Path, typer.Option("--out", help="Results CSV: one line per roster row.")],
    summary: Annotated[Path | None, typer.Option("--summary", help="Team summary (JSON).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Self-contained HTML report.")] = None,
    local: Annotated[bool, typer.Option("--local", help="Screen in-process, without servers or Redis.")] = False,
    address: Annotated[str, typer.Option(help="Encounter service address.")] = "",
    key: Annotated[str, typer.Option(help="Idempotency key (default: a hash of the file and label).")] = "",
    team_label: Annotated[str, typer.Option("--team-label", help="Team or event name for the summary.")] = "",
    timeout: Annotated[float, typer.Option(help="Deadline for the whole screening, in seconds.")] = 600.0,
) -> None:
    """Screen a team roster: triage per athlete, the team summary, who needs follow-up."""
    try:
        screened, body = run_screen(
            roster, out, summary=summary, report=report, local=local, address=address, key=key,
            team_label=team_label, timeout=timeout,
        )
    except RosterError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except ScreeningFailed as exc:
        err.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    except grpc.RpcError as error:
        connect.fail_rpc(error, address or settings().encounter_addr)
    console = Console()
    if screened.duplicate:
        console.print(f"already screened with this key: screening {screened.screening_id} (use --key to re-run)")
    triage = "  ".join(f"{name} {count}" for name, count in body["by_triage"].items())
    console.print(f"[bold]{body['screened']}[/bold] of {body['total']} athletes screened, "
                  f"rejected rows: {body['rejected']}.  {triage}")
    for item in body["follow_up"][:10]:
        console.print(f"  [bold]{item['triage']}[/bold] row {item['row']} {item['athlete_id']}: {item['reason']}")
    if len(body["follow_up"]) > 10:
        console.print(f"  ... and {len(body['follow_up']) - 10} more in {out}")
    for advice in body["team_advice"]:
        console.print(f"  team: {advice}")
    for bad in body["rejected_rows"][:10]:
        console.print(f"  [red]row {bad['row']}[/red] {bad['athlete_id']}: {'; '.join(bad['problems'])}")
    extra = (("summary", summary), ("report", report))
    written = [f"results: {out}"] + [f"{name}: {path}" for name, path in extra if path]
    console.print("  ".join(written))
    console.print(f"[dim]{screened.disclaimer} ({screened.kb_version})[/dim]")


@roster_app.command("synth")
def synth(
    athletes: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many athletes.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same roster).")] = 1,
) -> None:
    """Write a synthetic roster CSV to stdout, drawn from the knowledge base's priors and likelihoods."""
    from services.knowledge.loader import knowledge_base

    write_roster(synthesize(knowledge_base(), athletes, seed), sys.stdout)

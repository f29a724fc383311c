"""`footcds audit`: read the audit trail (needs a token with the `admin` scope).

Prints the newest records first: time, client, RPC, status, triage and leading conditions,
and the request hash. ``--critical-overrides`` keeps only the CDS Hooks cards a clinician
overrode although they were critical (emergency triage): each one is a signal to review.
``--since`` takes a duration back from now (``90s``, ``15m``, ``2h``,
``7d``) or an ISO-8601 time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any

import grpc
import typer
from footcds.v1 import audit_pb2, audit_pb2_grpc, common_pb2
from rich.console import Console
from rich.table import Table

from services.cli import connect
from services.platform.config import settings

EXIT_BAD_INPUT, EXIT_UNAVAILABLE = connect.EXIT_BAD_INPUT, connect.EXIT_UNAVAILABLE
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
err = connect.err


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``15m`` / ``2h`` / ``7d`` ago, or an ISO-8601 time (UTC when it names no zone)."""
    now = now or dt.datetime.now(dt.UTC)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match:
        return now - dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: {text!r} is neither a duration (15m, 2h, 7d) nor an ISO-8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def record_json(record: audit_pb2.AuditRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id,
        "time": record.time.ToDatetime(dt.UTC).isoformat(timespec="milliseconds"),
        "client_id": record.client_id, "auth": record.auth, "rpc": record.rpc, "code": record.code,
        "triage": common_pb2.TriageLevel.Name(record.triage).removeprefix("TRIAGE_LEVEL_").lower()
        if record.triage else None,
        "leading_conditions": list(record.leading_conditions), "screening_id": record.screening_id or None,
        "count": record.count, "kb_version": record.answered_kb_version,
        "request_sha256": record.request_sha256, "patient_ref_sha256": record.patient_ref_sha256 or None,
    }


def critical_override(record: audit_pb2.AuditRecord) -> bool:
    """A CDS Hooks feedback record: an emergency card overridden (services/gateway/cds_hooks/feedback.py)."""
    return (record.rpc.startswith("CDSHooks/") and record.rpc.endswith("/feedback")
            and record.code.startswith("OVERRIDDEN") and record.triage == common_pb2.TRIAGE_LEVEL_EMERGENCY)


def audit(
    since: Annotated[str, typer.Option(help="Only records since: 15m, 2h, 7d or an ISO-8601 time.")] = "",
    limit: Annotated[int, typer.Option(help="At most this many records (1-1000), newest first.")] = 50,
    client: Annotated[str, typer.Option(help="Only this client id's records.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    critical_overrides: Annotated[bool, typer.Option(
        "--critical-overrides", help="Only CDS Hooks critical cards a clinician overrode (to review).")] = False,
    address: Annotated[str, typer.Option(help="Encounter service address.")] = "",
    timeout: Annotated[float, typer.Option(help="Deadline in seconds.")] = 10.0,
) -> None:
    """Read the audit trail: who asked what, when, and the answer's triage (admin scope)."""
    # Filtering happens here, so read the most the trail gives and keep ``limit`` matches.
    request = audit_pb2.ListAuditRecordsRequest(limit=1000 if critical_overrides else limit, client_id=client)
    try:
        if since:
            request.since.FromDatetime(parse_since(since))
    except ValueError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    address = address or settings().encounter_addr
    with connect.open_channel(address) as channel:
        try:
            response = audit_pb2_grpc.AuditServiceStub(channel).ListAuditRecords(request, timeout=timeout)
        except grpc.RpcError as error:
            connect.fail_rpc(error, address)
    records = list(response.records)
    if critical_overrides:
        records = [r for r in records if critical_override(r)][:limit]
    if as_json:
        for record in records:
            print(json.dumps(record_json(record)))
        return
    title = "critical CDS Hooks cards overridden" if critical_overrides else "audit trail"
    table = Table(title=f"{title} ({len(records)} records{', more exist' if response.truncated else ''})")
    for column in ("time (UTC)", "client", "rpc", "code", "triage", "leading", "request sha256"):
        table.add_column(column, overflow="fold")
    for record in records:
        row = record_json(record)
        when = row["time"].replace("T", " ")[:23]
        table.add_row(when, f"{row['client_id']} ({row['auth']})", record.rpc.rsplit("/", 1)[-1], row["code"],
                      row["triage"] or "", ", ".join(row["leading_conditions"]) or row["screening_id"] or "",
                      row["request_sha256"][:16])
    Console().print(table)

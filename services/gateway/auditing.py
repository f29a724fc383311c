"""Gateway calls in the suite's audit trail (services/platform/audit.py), same record shape.

One record per completed intake and per staff read: who (tablet or staff client id), which
HTTP operation, the SHA-256 of the request and of the opaque intake reference, triage and
leading conditions; never an answer. A record that cannot be written withholds the answer
(503), as on the gRPC side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import anyio

from services.gateway.credentials import Caller
from services.gateway.outcome import HttpProblem, Issue
from services.platform.audit import AuditUnavailable, Entry


async def audit(
    trail: object, caller: Caller, operation: str, *, ref: str = "", request: bytes = b"", kb_version: str = "",
    triage: int = 0, leading: Sequence[str] = (), count: int = 0, code: str = "OK",
) -> None:
    entry = Entry(operation, request_sha256=hashlib.sha256(request).hexdigest() if request else "",
                  patient_ref_sha256=hashlib.sha256(ref.encode()).hexdigest() if ref else "",
                  kb_version=kb_version, triage=triage, leading=list(leading), count=count)
    fields = entry.fields(caller.client_id, caller.principal.via, code)
    try:
        await anyio.to_thread.run_sync(trail.append, fields)  # type: ignore[attr-defined]
    except AuditUnavailable as exc:
        raise HttpProblem(503, [Issue("", str(exc))]) from None

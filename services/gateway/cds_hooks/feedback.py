"""Feedback on cards: into the audit trail and the per-kind counters.

Each feedback entry is checked against the card FootCDS stored when it answered (an unknown
or expired card is 404; accepted suggestion ids must be the card's). The audit record is the
suite's shape (services/common/audit.py): client ``ehr:<iss>``, operation
``CDSHooks/<service>/feedback``, code ``ACCEPTED`` or ``OVERRIDDEN/<reason code>``, the card's
triage and leading conditions, the hashed opaque patient reference (the same hash as the suite's
Assess record, so the two can be joined); never the user's comment
(free text may hold patient details). ``footcds audit --critical-overrides`` lists the
overridden emergency cards: a signal to review.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import anyio

from services.common.audit import AuditLog, AuditUnavailable, Entry
from services.common.metrics import CDS_FEEDBACK
from services.gateway.cds_hooks.security import EhrCaller
from services.gateway.cds_hooks.store import CdsStore
from services.gateway.outcome import HttpProblem, Issue

FEEDBACK_RPC = "CDSHooks/{service}/feedback"
ACCEPTED, OVERRIDDEN = "ACCEPTED", "OVERRIDDEN"


async def record_feedback(service_id: str, body: dict[str, Any], caller: EhrCaller, store: CdsStore,
                          trail: AuditLog) -> int:
    """Checks every entry first (nothing is recorded from a half-bad request), then records all."""
    planned: list[tuple[dict[str, str], tuple[str, str, str, str]]] = []
    for i, item in enumerate(body["feedback"]):
        card = await store.card(item["card"])
        if card is None or card.service != service_id:
            raise HttpProblem(404, [Issue(f"feedback[{i}].card",
                                          f"no card {item['card']} from {service_id} (unknown or expired)")])
        accepted = [s["id"] for s in item.get("acceptedSuggestions") or []]
        unknown = [s for s in accepted if s not in card.suggestions]
        if unknown:
            raise HttpProblem(400, [Issue(f"feedback[{i}].acceptedSuggestions",
                                          f"not suggestions of this card: {unknown}")])
        if item["outcome"] == "accepted":
            code = ACCEPTED
        else:
            reason = ((item.get("overrideReason") or {}).get("reason") or {}).get("code") or "unspecified"
            code = f"{OVERRIDDEN}/{reason}"
        digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
        entry = Entry(FEEDBACK_RPC.format(service=service_id), request_sha256=digest,
                      patient_ref_sha256=hashlib.sha256(card.patient_ref.encode()).hexdigest(), kb_version="",
                      triage=card.triage, leading=card.leading, count=len(accepted))
        planned.append((entry.fields(caller.client_id, "jwt", code),
                        (service_id, card.kind, card.indicator, item["outcome"])))
    for fields, labels in planned:
        try:
            await anyio.to_thread.run_sync(trail.append, fields)
        except AuditUnavailable as exc:
            raise HttpProblem(503, [Issue("", str(exc))]) from None
        CDS_FEEDBACK.labels(*labels).inc()
    return len(planned)

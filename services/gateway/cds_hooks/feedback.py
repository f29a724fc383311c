"""Feedback on cards: into the audit trail and the per-kind counters.

Each feedback entry is checked against the card FootCDS stored when it answered (an unknown
or expired card is 404; accepted suggestion ids must be the card's). The audit record is the
suite's shape (services/platform/audit.py): client ``ehr:<iss>``, operation
``CDSHooks/<service>/feedback``, code ``ACCEPTED`` or ``OVERRIDDEN/<reason code>``, the card's
triage and leading conditions, the hashed opaque patient reference (the same hash as the suite's
Assess record, so the two can be joined); never the user's comment
(free text may hold patient details). ``footcds audit --critical-overrides`` lists the
overridden emergency cards: a signal to review.
"""

from __future__ import annotations

import json
from typing import Any

from services.gateway.auditing import audit
from services.gateway.cds_hooks.security import EhrCaller
from services.gateway.cds_hooks.store import CardRecord, CdsStore
from services.gateway.outcome import HttpProblem, Issue
from services.platform.audit import AuditLog
from services.platform.metrics import CDS_FEEDBACK

FEEDBACK_RPC = "CDSHooks/{service}/feedback"
ACCEPTED, OVERRIDDEN = "ACCEPTED", "OVERRIDDEN"


async def record_feedback(service_id: str, body: dict[str, Any], caller: EhrCaller, store: CdsStore,
                          trail: AuditLog) -> int:
    """Checks every entry first (nothing is recorded from a half-bad request), then records all."""
    planned: list[tuple[CardRecord, dict[str, Any], str, int]] = []
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
        planned.append((card, item, code, len(accepted)))
    for card, item, code, accepted_count in planned:
        await audit(trail, caller.as_caller(), FEEDBACK_RPC.format(service=service_id), ref=card.patient_ref,
                    request=json.dumps(item, sort_keys=True).encode(), triage=card.triage, leading=card.leading,
                    count=accepted_count, code=code)
        CDS_FEEDBACK.labels(service_id, card.kind, card.indicator, item["outcome"]).inc()
    return len(planned)

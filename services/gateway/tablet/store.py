"""Completed intakes in Redis, for the staff view: expire, audited, emergencies first.

One key per intake (``footcds:gateway:intake:<ref>``, JSON, expiring after
FOOTCDS_GATEWAY_INTAKE_TTL_SECONDS) and one sorted set per UTC day indexing them by completion
time (expiring with them). The reference is the QuestionnaireResponse id: opaque, never a name.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

PREFIX = "footcds:gateway"


def day_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


@dataclass
class IntakeRecord:
    """What staff see for one completed intake; ``triage`` is the TriageLevel number."""

    ref: str
    completed_at: float
    device: str
    triage: int
    emergency: bool
    alert: str  # "emergency", "urgent" or "": what the tablet showed the patient
    red_flags: list[str]
    questions: int
    kb_version: str
    assessment: dict[str, Any] = field(default_factory=dict)
    questionnaire_response: dict[str, Any] = field(default_factory=dict)
    bundle: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        for heavy in ("assessment", "questionnaire_response", "bundle"):
            out.pop(heavy)
        return out


class IntakeStore:
    def __init__(self, client: aioredis.Redis, ttl_seconds: int) -> None:
        self.redis = client
        self.ttl = ttl_seconds

    async def save(self, record: IntakeRecord) -> None:
        day_key = f"{PREFIX}:day:{day_of(record.completed_at)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{PREFIX}:intake:{record.ref}", json.dumps(asdict(record)), ex=self.ttl)
            pipe.zadd(day_key, {record.ref: record.completed_at})
            pipe.expire(day_key, self.ttl + 86400)
            await pipe.execute()

    async def get(self, ref: str) -> IntakeRecord | None:
        raw = await self.redis.get(f"{PREFIX}:intake:{ref}")
        return IntakeRecord(**json.loads(raw)) if raw else None

    async def today(self, now: float | None = None, limit: int = 500) -> list[IntakeRecord]:
        """Today's (UTC) intakes still kept: emergencies first, then by triage, newest first."""
        day_key = f"{PREFIX}:day:{day_of(now or time.time())}"
        refs = await self.redis.zrevrange(day_key, 0, limit - 1)
        if not refs:
            return []
        raws = await self.redis.mget([f"{PREFIX}:intake:{ref}" for ref in refs])
        records = [IntakeRecord(**json.loads(raw)) for raw in raws if raw]
        expired = [ref for ref, raw in zip(refs, raws, strict=True) if not raw]
        if expired:
            await self.redis.zrem(day_key, *expired)
        return sorted(records, key=lambda r: (not r.emergency, r.triage or 9, -r.completed_at))

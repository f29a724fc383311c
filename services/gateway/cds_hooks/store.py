"""What a card leaves behind in Redis: its metadata (for feedback) and the assessment it links to.

``footcds:gateway:cds:card:<uuid>`` holds the card's service, kind, indicator, triage, leading
conditions, suggestion uuids and assessment reference, so feedback can be checked and counted
without trusting the EHR's copy. ``footcds:gateway:cds:assessment:<ref>`` holds the assessment
the card's link opens (``/staff/assessments/<ref>``). Both expire; neither holds a name or an
EHR identifier (the reference is a random uuid).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field

import redis.asyncio as aioredis

from services.gateway.outcome import HttpProblem, Issue

PREFIX = "footcds:gateway:cds"


@dataclass
class CardRecord:
    service: str
    kind: str
    indicator: str
    triage: int
    leading: list[str]
    ref: str
    patient_ref: str
    suggestions: list[str] = field(default_factory=list)


class CdsStore:
    def __init__(self, client: aioredis.Redis, card_ttl: int, assessment_ttl: int) -> None:
        self.redis = client
        self.card_ttl = card_ttl
        self.assessment_ttl = assessment_ttl

    async def save(self, cards: dict[str, CardRecord], ref: str, assessment: bytes) -> None:
        """``assessment``: the serialized footcds.v1.Assessment (base64: the client decodes text)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(f"{PREFIX}:assessment:{ref}", base64.b64encode(assessment).decode(), ex=self.assessment_ttl)
                for uuid, record in cards.items():
                    pipe.set(f"{PREFIX}:card:{uuid}", json.dumps(asdict(record)), ex=self.card_ttl)
                await pipe.execute()
        except aioredis.RedisError:
            raise HttpProblem(503, [Issue("", "card store unavailable")]) from None

    async def card(self, uuid: str) -> CardRecord | None:
        raw = await self.redis.get(f"{PREFIX}:card:{uuid}")
        return CardRecord(**json.loads(raw)) if raw else None

    async def assessment(self, ref: str) -> bytes | None:
        raw = await self.redis.get(f"{PREFIX}:assessment:{ref}")
        return base64.b64decode(raw) if raw else None

"""A screening's state in Redis: written idempotently, read cheaply, gone after its expiry.

Keys (every one expires at the same moment, ``expires_at`` in the meta hash):

* ``footcds:screening:<id>``         meta hash: total, accepted, chunks, label, kb, expires_at,
                                     dispatched, started, failed, pre (tally of rows rejected
                                     at submit)
* ``footcds:screening:<id>:rows``    hash: roster position -> AthleteResult bytes.  A chunk
                                     that runs twice (a worker died after writing, before its
                                     ack) overwrites the same fields: never a second copy.
* ``footcds:screening:<id>:chunks``  hash: chunk index -> its tally ("done,rejected,e,u,r,s"),
                                     written in the same transaction as the chunk's rows.
                                     Progress is the sum of these fields, so a redelivered
                                     chunk cannot count twice (an INCR would).
* ``footcds:screening:<id>:events``  list: one entry pushed by every write a watch reports
                                     (a chunk's rows, the first chunk started, a failure),
                                     popped by ``WatchScreening`` (BLPOP) instead of polling;
                                     trimmed to its last ``EVENTS_KEPT``.
* ``footcds:screening-key:<sha256>`` the idempotency key -> ``<screening id> <roster hash>``
                                     (SET NX); the key is hashed so no caller text becomes a
                                     Redis key, and the roster hash (``roster_fingerprint``)
                                     lets a reused key with a different roster be refused.

No athlete data is logged; results hold opaque athlete references only.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from footcds.v1 import encounter_pb2

from services.pipeline.screening import Result
from services.pipeline.team import Tally
from services.platform.config import Settings, settings
from services.platform.redis_client import redis_client

PREFIX = "footcds:screening"
# A submit that claimed its key but neither finished nor cleaned up (its process died between
# the claim and the dispatch) is taken over by a later submit with the same key after this.
STALE_CLAIM_SECONDS = 30
READ_BATCH = 1000
EVENTS_KEPT = 64  # a watch only needs to know that something changed, not what


def meta_key(screening_id: str) -> str:
    return f"{PREFIX}:{screening_id}"


def rows_key(screening_id: str) -> str:
    return f"{PREFIX}:{screening_id}:rows"


def chunks_key(screening_id: str) -> str:
    return f"{PREFIX}:{screening_id}:chunks"


def events_key(screening_id: str) -> str:
    return f"{PREFIX}:{screening_id}:events"


def idempotency_key(key: str) -> str:
    return f"{PREFIX}-key:{hashlib.sha256(key.encode()).hexdigest()}"


def roster_fingerprint(team_label: str, athletes: Sequence[encounter_pb2.RosterEntry]) -> str:
    """sha256 of the label and every entry, deterministically serialized and length-prefixed.

    Stored beside the idempotency key so the same key with another roster is an error the
    client sees (as payment APIs do), not a silent answer about a different team.
    """
    digest = hashlib.sha256()
    for part in (team_label.encode(), *(a.SerializeToString(deterministic=True) for a in athletes)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class KeyReused(Exception):
    """The idempotency key is bound to a screening of a different roster."""

    def __init__(self, screening_id: str) -> None:
        super().__init__(f"the idempotency key was already used for a different roster (screening {screening_id})")
        self.screening_id = screening_id


def _binding(raw: bytes) -> tuple[str, str]:
    """A key's value as (screening id, roster hash); a value without a hash matches any roster."""
    screening_id, _, fingerprint = raw.decode().partition(" ")
    return screening_id, fingerprint


@dataclass(frozen=True)
class Meta:
    """What a screening was started with."""

    total: int
    accepted: int
    chunks: int
    team_label: str
    kb_version: str
    expires_at: int
    dispatched: bool = False
    started: bool = False
    failed: str = ""
    pre: Tally | None = None

    def fields(self) -> dict[str, str]:
        out = {
            "total": str(self.total),
            "accepted": str(self.accepted),
            "chunks": str(self.chunks),
            "label": self.team_label,
            "kb": self.kb_version,
            "expires_at": str(self.expires_at),
            "pre": (self.pre or Tally()).encode(),
        }
        return out

    @classmethod
    def parse(cls, raw: dict[bytes, bytes]) -> Meta:
        get = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(
            total=int(get["total"]),
            accepted=int(get["accepted"]),
            chunks=int(get["chunks"]),
            team_label=get.get("label", ""),
            kb_version=get.get("kb", ""),
            expires_at=int(get["expires_at"]),
            dispatched="dispatched" in get,
            started="started" in get,
            failed=get.get("failed", ""),
            pre=Tally.decode(get["pre"]) if "pre" in get else None,
        )


@dataclass(frozen=True)
class Progress:
    """Where a screening is: WatchScreening's payload."""

    state: int
    total: int
    tally: Tally
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.state in (encounter_pb2.SCREENING_STATE_DONE, encounter_pb2.SCREENING_STATE_FAILED)


def progress_of(meta: Meta, chunk_tallies: dict[bytes, bytes]) -> Progress:
    tally = Tally()
    if meta.pre is not None:
        tally.merge(meta.pre)
    for text in chunk_tallies.values():
        tally.merge(Tally.decode(text.decode()))
    if meta.dispatched and len(chunk_tallies) >= meta.chunks:
        state = encounter_pb2.SCREENING_STATE_DONE
    elif meta.failed:
        state = encounter_pb2.SCREENING_STATE_FAILED
    elif meta.started or chunk_tallies:
        state = encounter_pb2.SCREENING_STATE_RUNNING
    else:
        state = encounter_pb2.SCREENING_STATE_QUEUED
    return Progress(state=state, total=meta.total, tally=tally, message=meta.failed)


class ScreeningStore:
    """Every Redis operation of screening; the servicer and the chunk task share it."""

    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        # redis-py's stubs type every reply as "value or awaitable"; this client is synchronous.
        self.client: Any = client
        self.ttl = ttl_seconds

    @classmethod
    def from_settings(cls, cfg: Settings) -> ScreeningStore:
        client = redis_client(cfg, socket_connect_timeout=2, socket_timeout=10)
        return cls(client, cfg.screening_ttl_seconds)

    # --- submit -------------------------------------------------------------------------

    def claim(self, key: str, screening_id: str, fingerprint: str = "") -> str | None:
        """Bind ``key`` to ``screening_id`` unless already bound; returns the existing id.

        Raises ``KeyReused`` (having written nothing) when the key is bound to a screening
        whose roster hash differs from ``fingerprint``.
        """
        name = idempotency_key(key)
        value = f"{screening_id} {fingerprint}" if fingerprint else screening_id
        for _ in range(2):
            if self.client.set(name, value, nx=True, ex=self.ttl):
                return None
            existing = self.client.get(name)
            if existing is None:  # expired between SET and GET: try once more
                continue
            other, bound = _binding(existing)
            if self._abandoned(name, other):
                self._release(name, other)
                continue
            if fingerprint and bound and bound != fingerprint:
                raise KeyReused(other)
            return other
        raise redis.exceptions.ConnectionError("could not claim the idempotency key")

    def _abandoned(self, name: str, other: str) -> bool:
        """The other submit claimed the key, then died before dispatching its chunks."""
        dispatched = self.client.hget(meta_key(other), "dispatched")
        if dispatched is not None:
            return False
        age = self.ttl - max(int(self.client.ttl(name)), 0)
        return age > STALE_CLAIM_SECONDS

    def _release(self, name: str, screening_id: str) -> None:
        """Delete the key binding and the screening, only if the key still names it."""
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(name)
                current = pipe.get(name)
                if current is None or _binding(current)[0] != screening_id:
                    return
                pipe.multi()
                pipe.delete(
                    name, meta_key(screening_id), rows_key(screening_id), chunks_key(screening_id),
                    events_key(screening_id),
                )
                pipe.execute()
            except redis.exceptions.WatchError:
                return

    def create(self, screening_id: str, meta: Meta, rejected: Sequence[Result]) -> None:
        """Meta and the rows rejected at submit, in one transaction."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(meta_key(screening_id), mapping=meta.fields())
        pipe.expireat(meta_key(screening_id), meta.expires_at)
        if rejected:
            pipe.hset(
                rows_key(screening_id),
                mapping={str(pos): r.SerializeToString() for pos, r in rejected},
            )
            pipe.expireat(rows_key(screening_id), meta.expires_at)
        pipe.execute()

    def mark_dispatched(self, screening_id: str) -> None:
        self.client.hset(meta_key(screening_id), "dispatched", "1")

    def abandon(self, key: str, screening_id: str) -> None:
        """Undo a submit whose dispatch failed (best effort; a dead Redis holds nothing new)."""
        self._release(idempotency_key(key), screening_id)

    # --- the chunk task -----------------------------------------------------------------

    def mark_started(self, screening_id: str) -> bool:
        """False when the screening is gone (expired or abandoned): the chunk has nothing to do."""
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(meta_key(screening_id))
        pipe.hsetnx(meta_key(screening_id), "started", "1")
        pipe.hget(meta_key(screening_id), "expires_at")
        exists, first, expires_at = pipe.execute()
        if not exists:
            self.client.delete(meta_key(screening_id))  # HSETNX on a missing key created it
        elif first and expires_at is not None:  # queued -> running: a watch reports it
            pipe = self.client.pipeline(transaction=False)
            self._notify(pipe, screening_id, int(expires_at))
            pipe.execute()
        return bool(exists)

    def _notify(self, pipe: Any, screening_id: str, expires_at: int) -> None:
        """Wake a watch (``wait_for_change``): push to the screening's events list."""
        pipe.rpush(events_key(screening_id), b"1")
        pipe.ltrim(events_key(screening_id), -EVENTS_KEPT, -1)
        pipe.expireat(events_key(screening_id), expires_at)

    def write_chunk(self, screening_id: str, chunk: int, results: Sequence[Result]) -> bool:
        """The chunk's rows and its tally together; a re-run overwrites both."""
        expires_at = self.client.hget(meta_key(screening_id), "expires_at")
        if expires_at is None:
            return False
        tally = Tally.of(r for _, r in results)
        pipe = self.client.pipeline(transaction=True)
        if results:
            pipe.hset(
                rows_key(screening_id),
                mapping={str(pos): r.SerializeToString() for pos, r in results},
            )
            pipe.expireat(rows_key(screening_id), int(expires_at))
        pipe.hset(chunks_key(screening_id), str(chunk), tally.encode())
        pipe.expireat(chunks_key(screening_id), int(expires_at))
        self._notify(pipe, screening_id, int(expires_at))
        pipe.execute()
        return True

    def mark_failed(self, screening_id: str, message: str) -> None:
        expires_at = self.client.hget(meta_key(screening_id), "expires_at")
        if expires_at is not None:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(meta_key(screening_id), "failed", message[:500])
            self._notify(pipe, screening_id, int(expires_at))
            pipe.execute()

    def wait_for_change(self, screening_id: str, timeout: float) -> bool:
        """Block until a chunk task writes something a watch reports, or ``timeout`` seconds.

        True when woken by a write.  BLOCKING POP: each write wakes one waiting watch; a second
        watch of the same screening misses that one and sees the change at its own timeout,
        so the timeout is the bound on staleness and a watch never waits on a push alone."""
        popped = self.client.blpop([events_key(screening_id)], timeout=max(timeout, 0.001))
        return popped is not None

    # --- reads --------------------------------------------------------------------------

    def meta(self, screening_id: str) -> Meta | None:
        raw = self.client.hgetall(meta_key(screening_id))
        return Meta.parse(raw) if raw and b"total" in raw else None

    def progress(self, screening_id: str) -> Progress | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(meta_key(screening_id))
        pipe.hgetall(chunks_key(screening_id))
        raw_meta, tallies = pipe.execute()
        if not raw_meta or b"total" not in raw_meta:
            return None
        return progress_of(Meta.parse(raw_meta), tallies)

    def results(self, screening_id: str, total: int) -> Iterator[encounter_pb2.AthleteResult]:
        """Stored results in roster order, read in batches; rows without a result are skipped."""
        for raw in self.raw_results(screening_id, total):
            yield encounter_pb2.AthleteResult.FromString(raw)

    def raw_results(self, screening_id: str, total: int) -> Iterator[bytes]:
        """``results`` as the serialized ``AthleteResult`` each row was stored as."""
        for start in range(0, total, READ_BATCH):
            fields = [str(i) for i in range(start, min(start + READ_BATCH, total))]
            for raw in self.client.hmget(rows_key(screening_id), fields):
                if raw is not None:
                    yield raw


@cache
def store() -> ScreeningStore:
    """The process-wide store (redis-py pools are fork-aware; the cache is cleared anyway)."""
    cfg = settings()
    return ScreeningStore.from_settings(cfg)


def expiry(ttl_seconds: int) -> int:
    return int(time.time()) + ttl_seconds


os.register_at_fork(after_in_child=store.cache_clear)

"""The screening RPCs of EncounterService, as a mixin the EncounterServicer inherits.

SubmitScreening checks the roster, claims the idempotency key, writes the screening's meta
and the rows rejected on sight, and queues the chunks as a Celery group; it returns at once.
Completion is derived from per-chunk tallies in Redis, not from a chord counter: a chord
counts a chunk twice when a worker dies between storing its result and acknowledging it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from celery import group
from footcds.v1 import encounter_pb2
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from services.knowledge.loader import knowledge_base
from services.pipeline import screening, team
from services.pipeline.screening_store import (
    KeyReused,
    Meta,
    Progress,
    ScreeningStore,
    expiry,
    roster_fingerprint,
    store,
)
from services.platform.config import settings
from services.platform.deadlines import call_budget
from services.platform.errors import InvalidInput, bad_request_status, translate_errors

log = logging.getLogger("footcds.encounter")
QUEUE_ERRORS = (OperationalError, RedisConnectionError, RedisTimeout, ConnectionError, RedisError)
SCREENING_ID = re.compile(r"^scr_[0-9a-f]{32}$")
# A watch blocks on the screening's events list (``ScreeningStore.wait_for_change``: each chunk
# write pushes to it) and re-reads the progress at least this often without a push.  It used to
# sleep 25 ms between progress reads: ~40 Redis round trips a second per watch (ninth pass).
WATCH_WAIT_SECONDS = 0.25

T = TypeVar("T")


def dispatch(screening_id: str, chunks: list[list[screening.Indexed]]) -> None:
    """Queue one task per chunk as a Celery group; each carries only its own athletes."""
    from services.worker.screening_tasks import screen_chunk_task

    if not chunks:
        return
    group(
        screen_chunk_task.s(
            screening_id,
            index,
            [position for position, _ in chunk],
            encounter_pb2.SubmitScreeningRequest(athletes=[entry for _, entry in chunk]).SerializeToString(),
        )
        for index, chunk in enumerate(chunks)
    ).apply_async()


def _stream(context: grpc.ServicerContext, body: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Errors of a streaming handler as statuses (``translate_errors`` cannot wrap a generator)."""
    try:
        yield from body()
    except InvalidInput as exc:
        context.abort_with_status(bad_request_status(exc.violations, str(exc)))
    except QUEUE_ERRORS:
        context.abort(grpc.StatusCode.UNAVAILABLE, "the screening store (Redis) is unreachable")


def _warm_knowledge_base() -> None:
    try:
        knowledge_base()
    except Exception:  # noqa: BLE001 - the first RPC will load it again and report the error
        log.warning("knowledge base warm-up failed", extra={"error_type": "warmup"})


PAGE_BYTES = 1 << 20  # a page of results stops growing past this many bytes


def _pages(
    rows: Iterator[bytes], per_message: int, kb_version: str, disclaimer: str
) -> Iterator[encounter_pb2.GetScreeningResultsResponse]:
    """Results in pages of at most ``per_message`` (and about ``PAGE_BYTES``), in roster order.

    A streamed message costs the server and the client ~20-90 us of Python each whatever it
    holds, against ~2 us to parse one result (docs/performance.md, eighth pass)."""
    page: list[bytes] = []
    size = 0
    for raw in rows:
        page.append(raw)
        size += len(raw)
        if len(page) >= per_message or size >= PAGE_BYTES:
            yield _page(page, kb_version, disclaimer)
            page, size = [], 0
    if page:
        yield _page(page, kb_version, disclaimer)


def _one(raw: bytes, kb_version: str, disclaimer: str) -> encounter_pb2.GetScreeningResultsResponse:
    """One stored result as its response, parsed once (not parsed, then copied in)."""
    response = encounter_pb2.GetScreeningResultsResponse(kb_version=kb_version, disclaimer=disclaimer)
    response.result.MergeFromString(raw)
    return response


def _page(rows: list[bytes], kb_version: str, disclaimer: str) -> encounter_pb2.GetScreeningResultsResponse:
    """A page's response, each stored result parsed once straight into its place in ``results``."""
    response = encounter_pb2.GetScreeningResultsResponse(kb_version=kb_version, disclaimer=disclaimer)
    add = response.results.add
    for raw in rows:
        add().MergeFromString(raw)
    return response


class ScreeningServicerMixin:
    """SubmitScreening, WatchScreening, GetScreeningResults, GetScreeningSummary."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Load the knowledge base (labels, team advice, version) off the first call's path.
        threading.Thread(target=_warm_knowledge_base, name="kb-warmup", daemon=True).start()

    def _store(self) -> ScreeningStore:
        return store()

    def _progress(self, screening_id: str, context: grpc.ServicerContext) -> Progress:
        progress = self._store().progress(screening_id)
        if progress is None:
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no screening {screening_id}: unknown, or expired "
                f"(results are kept {settings().screening_ttl_seconds} s)",
            )
        assert progress is not None
        return progress

    @translate_errors
    def SubmitScreening(
        self, request: encounter_pb2.SubmitScreeningRequest, context: grpc.ServicerContext
    ) -> encounter_pb2.SubmitScreeningResponse:
        started = time.perf_counter()
        cfg = settings()
        screening.check_size(len(request.athletes), cfg.screening_max_athletes)
        kb = knowledge_base()
        prepared = screening.prepare(request.athletes)
        chunks = screening.chunked_by_input(prepared.accepted, cfg.screening_chunk_size)
        target = self._store()
        screening_id = f"scr_{uuid.uuid4().hex}"
        try:
            fingerprint = roster_fingerprint(request.team_label, request.athletes)
            existing = target.claim(request.idempotency_key, screening_id, fingerprint)
        except KeyReused as exc:
            # Nothing was written: answering with the other roster's screening would mislead.
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"idempotency_key: {exc}; use a new key to screen this roster",
            )
        except QUEUE_ERRORS:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the screening store (Redis) is unreachable")
        if existing is not None:
            try:
                meta = target.meta(existing)
            except QUEUE_ERRORS:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the screening store (Redis) is unreachable")
            log.info("screening duplicate", extra={"rpc": "SubmitScreening", "screening_id": existing})
            return encounter_pb2.SubmitScreeningResponse(
                screening_id=existing,
                total=meta.total if meta else len(request.athletes),
                duplicate=True,
                kb_version=kb.version,
                disclaimer=kb.disclaimer,
            )
        meta = Meta(
            total=len(request.athletes),
            accepted=len(prepared.accepted),
            chunks=len(chunks),
            team_label=request.team_label,
            kb_version=kb.version,
            expires_at=expiry(cfg.screening_ttl_seconds),
            pre=team.Tally.of(r for _, r in prepared.rejected),
        )
        try:
            target.create(screening_id, meta, prepared.rejected)
            dispatch(screening_id, chunks)
            target.mark_dispatched(screening_id)
        except QUEUE_ERRORS:
            # If Redis is down this fails too: whatever was written expires, and a retry with the
            # same key takes the stale claim over (screening_store.STALE_CLAIM_SECONDS).
            with contextlib.suppress(*QUEUE_ERRORS):
                target.abandon(request.idempotency_key, screening_id)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the task queue (Redis) is unreachable; nothing was started")
        log.info(
            "screening submitted",
            extra={"rpc": "SubmitScreening", "screening_id": screening_id, "count": len(request.athletes),
                   "chunk": len(chunks), "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
        )
        return encounter_pb2.SubmitScreeningResponse(
            screening_id=screening_id,
            total=len(request.athletes),
            duplicate=False,
            kb_version=kb.version,
            disclaimer=kb.disclaimer,
        )

    def WatchScreening(
        self, request: encounter_pb2.WatchScreeningRequest, context: grpc.ServicerContext
    ) -> Iterator[encounter_pb2.WatchScreeningResponse]:
        def body() -> Iterator[encounter_pb2.WatchScreeningResponse]:
            screening_id = request.screening_id  # its pattern is checked by the contract
            kb = knowledge_base()
            ends = time.monotonic() + call_budget(context)  # the budget interceptor bounds it
            last: tuple[object, ...] | None = None
            while context.is_active() and time.monotonic() < ends:
                progress = self._progress(screening_id, context)
                tally = progress.tally
                seen = (progress.state, tally.done, tally.rejected, tally.encode())
                if seen != last:
                    last = seen
                    yield encounter_pb2.WatchScreeningResponse(
                        state=progress.state,  # type: ignore[arg-type]
                        done=tally.done,
                        total=progress.total,
                        by_triage=tally.triage_counts(),
                        rejected=tally.rejected,
                        message=progress.message,
                        kb_version=kb.version,
                        disclaimer=kb.disclaimer,
                    )
                if progress.finished:
                    return
                self._store().wait_for_change(screening_id, min(WATCH_WAIT_SECONDS, ends - time.monotonic()))
            if context.is_active():  # the budget ran out, not the screening: say so, not OK
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                              f"screening {screening_id} is still running; the watch's budget ran out, watch again")

        return _stream(context, body)

    def GetScreeningResults(
        self, request: encounter_pb2.GetScreeningResultsRequest, context: grpc.ServicerContext
    ) -> Iterator[encounter_pb2.GetScreeningResultsResponse]:
        def body() -> Iterator[encounter_pb2.GetScreeningResultsResponse]:
            screening_id = request.screening_id  # its pattern is checked by the contract
            kb = knowledge_base()
            progress = self._progress(screening_id, context)
            if not progress.finished:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"screening {screening_id} is still running ({progress.tally.done}/{progress.total}); "
                    "watch it with WatchScreening",
                )
            rows = self._store().raw_results(screening_id, progress.total)
            per_message = request.results_per_message
            if not per_message:  # one per message, as v1 first shipped
                for raw in rows:
                    yield _one(raw, kb.version, kb.disclaimer)
                return
            yield from _pages(rows, per_message, kb.version, kb.disclaimer)

        return _stream(context, body)

    @translate_errors
    def GetScreeningSummary(
        self, request: encounter_pb2.GetScreeningSummaryRequest, context: grpc.ServicerContext
    ) -> encounter_pb2.GetScreeningSummaryResponse:
        screening_id = request.screening_id  # its pattern is checked by the contract
        kb = knowledge_base()
        try:
            progress = self._progress(screening_id, context)
            meta = self._store().meta(screening_id)
            results = list(self._store().results(screening_id, progress.total))
        except QUEUE_ERRORS:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the screening store (Redis) is unreachable")
        summary = team.summarize(
            kb, results, total=progress.total, state=progress.state, team_label=meta.team_label if meta else ""
        )
        return encounter_pb2.GetScreeningSummaryResponse(
            summary=summary, kb_version=kb.version, disclaimer=kb.disclaimer
        )


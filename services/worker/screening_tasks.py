"""The team-screening chunk task: one batch RPC per service for a chunk of athletes.

Thin on purpose: it moves a chunk to the services (``screening.screen_chunk`` decides what
goes where) and writes the results under the screening id.  It is idempotent — results are
keyed by roster position and the chunk's tally by chunk index, so a chunk re-run after a
worker died overwrites and never appends — which is what makes ``acks_late`` +
``reject_on_worker_lost`` safe: a killed worker's chunks are simply run again.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.pipeline.clients import in_background, serialized_stubs, stubs
from services.pipeline.errors import StageFailed
from services.pipeline.screening import screen_chunk
from services.pipeline.screening_store import store
from services.platform.config import settings
from services.platform.deadlines import remaining
from services.worker.app import app
from services.worker.tasks import StageTask

log = logging.getLogger("footcds.worker")
STAGES_PER_CHUNK = 4


@functools.cache
def _chunk_slots() -> threading.BoundedSemaphore:
    """At most ``screening_chunks_per_worker`` chunks in this process at once.  A prefork
    child runs one task at a time, so it never waits here; a threads-pool worker would hold a
    chunk's batch messages per thread (327 MB at 8 threads against 115 MB for a prefork child,
    docs/performance.md); a thread waiting here holds only the roster bytes.  Assess shares the
    pool: while a large roster keeps every thread busy or waiting, an assessment waits for a free
    thread, as it waited for a free prefork child before (a worker of its own for screening would
    isolate the two; not done)."""
    return threading.BoundedSemaphore(settings().screening_chunks_per_worker)


class ScreeningChunkTask(StageTask):
    """StageTask's late ack, redelivery and retries, with the screening's call cap.

    A chunk's batch call takes far longer than one Assess stage, so it is capped by
    ``FOOTCDS_SCREENING_CALL_TIMEOUT_SECONDS`` instead of the stage timeout.  Results live in
    the screening's own keys, so Celery stores none.
    """

    ignore_result = True

    def call_cap(self) -> float:
        return settings().screening_call_timeout_seconds

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Retries are spent or the error is not retryable: the screening says FAILED."""
        screening_id, chunk = args[0], args[1]
        message = exc.message if isinstance(exc, StageFailed) else type(exc).__name__
        log.error("screening chunk failed", extra={"screening_id": screening_id, "chunk": chunk,
                                                   "error_type": type(exc).__name__})
        store().mark_failed(screening_id, f"chunk {chunk}: {message}")


class GrpcBatchCalls:
    """``screening.BatchCalls`` over gRPC; work-up and treatment run concurrently."""

    def __init__(self, task: ScreeningChunkTask, deadline: float) -> None:
        self.task = task
        self.deadline = deadline

    def normalize(
        self, request: intake_pb2.NormalizeIntakeBatchRequest
    ) -> intake_pb2.NormalizeIntakeBatchResponse:
        response: intake_pb2.NormalizeIntakeBatchResponse = self.task.call(
            "intake", stubs().intake.NormalizeIntakeBatch, request, self.deadline
        )
        return response

    def rank(
        self, request: differential_pb2.RankDifferentialBatchRequest
    ) -> differential_pb2.RankDifferentialBatchResponse:
        response: differential_pb2.RankDifferentialBatchResponse = self.task.call(
            "differential", stubs().differential.RankDifferentialBatch, request, self.deadline
        )
        return response

    def tests_and_plans(
        self, tests: bytes, plans: bytes
    ) -> tuple[workup_pb2.RecommendTestsBatchResponse, treatment_pb2.PlanTreatmentBatchResponse]:
        """Both batches sent as the bytes ``screen_chunk`` spliced (no message built, no second
        serialization); the treatment on a pooled thread (``clients.in_background``), not
        ``.future()``, which started a channel-spin thread per chunk."""
        timeout = remaining(self.deadline, cap=settings().screening_call_timeout_seconds)
        s = serialized_stubs()
        # Both depend only on the differential: two services, two cores, one wait.
        pending = in_background(s.plan_treatment_batch, plans, timeout)
        try:
            tested: workup_pb2.RecommendTestsBatchResponse = self.task.call(
                "workup", s.recommend_tests_batch, tests, self.deadline
            )
            planned: treatment_pb2.PlanTreatmentBatchResponse = self.task.call(
                "treatment", lambda _request, timeout: pending.result(timeout=timeout), plans, self.deadline
            )
        finally:
            pending.cancel()  # no-op once it has started
        return tested, planned


@app.task(bind=True, base=ScreeningChunkTask, name="footcds.screening.chunk")
def screen_chunk_task(
    self: ScreeningChunkTask, screening_id: str, chunk: int, positions: list[int], roster: bytes
) -> int:
    """Screen one chunk (``roster``: a SubmitScreeningRequest holding only its athletes)."""
    started = time.perf_counter()
    target = store()
    if not target.mark_started(screening_id):
        return 0  # expired or abandoned: nothing to write to
    with _chunk_slots():
        waited = time.perf_counter() - started
        athletes = encounter_pb2.SubmitScreeningRequest.FromString(roster).athletes
        deadline = time.time() + STAGES_PER_CHUNK * settings().screening_call_timeout_seconds
        results = screen_chunk(list(zip(positions, athletes, strict=True)), GrpcBatchCalls(self, deadline))
        target.write_chunk(screening_id, chunk, results)
        finished = time.perf_counter()
    log.info(
        "screening chunk",
        extra={"screening_id": screening_id, "chunk": chunk, "count": len(results),
               "duration_ms": round((finished - started) * 1000, 2), "waited_ms": round(waited * 1000, 2)},
    )
    return len(results)

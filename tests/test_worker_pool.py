"""The worker's threads pool (docs/performance.md, fifth pass) with screening chunks bounded.

Assess runs on a threads pool (no pipe and pickle to a pool child); a team screening's chunks
would then hold one chunk's batch messages per thread in one process, so a worker process
screens at most ``FOOTCDS_SCREENING_CHUNKS_PER_WORKER`` chunks at once.  Checked here on a
real suite (Redis, the five services, a threads worker of 8) from the worker's own log.

The Assess task calls work-up beside treatment only while few Assess tasks run in its process
(``FOOTCDS_ASSESS_PARALLEL_MAX_RUNNING``, thirteenth pass); this suite sets it to 0, so every
assessment here takes the one-after-the-other path (the other suites, one call at a time, the
concurrent one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from footcds.v1 import encounter_pb2, encounter_pb2_grpc

from bench.assess import example_requests
from devtools.suite import LocalSuite
from services.pipeline.local import assess_local
from services.pipeline.screening import LocalBatchCalls, screen_chunk
from tests.test_screening_e2e import results_of, submit, synthetic, watch_to_end

pytestmark = pytest.mark.e2e
CHUNK = 20
ATHLETES = 140  # 7 chunks: more than one per thread would be prefetched at once


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    running = LocalSuite(
        log_dir=tmp_path_factory.mktemp("bounded"),
        extra_env={"FOOTCDS_SCREENING_CHUNK_SIZE": str(CHUNK), "FOOTCDS_SCREENING_CHUNKS_PER_WORKER": "1",
                   "FOOTCDS_LOG_LEVEL": "INFO",  # the chunk log lines
                   "FOOTCDS_ASSESS_PARALLEL_MAX_RUNNING": "0"},  # work-up after treatment, always
    )
    assert running.worker_pool == "threads" and running.worker_concurrency > 1  # what is deployed
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stub(bounded: LocalSuite) -> Iterator[encounter_pb2_grpc.EncounterServiceStub]:
    with bounded.channel("encounter") as channel:
        yield encounter_pb2_grpc.EncounterServiceStub(channel)


def chunk_spans(suite: LocalSuite, screening_id: str) -> list[tuple[float, float]]:
    """(start, end) wall time of each chunk's screening, after it got its slot, from the log
    (the line is written just after the slot is given back: ``ts`` is a little late)."""
    spans = []
    for line in (suite.log_dir / "worker.log").read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("event") == "screening chunk" and record.get("screening_id") == screening_id:
            end = record["ts"]
            spans.append((end - (record["duration_ms"] - record["waited_ms"]) / 1000, end))
    return sorted(spans)


def test_a_threads_worker_screens_one_chunk_at_a_time_and_every_athlete_once(
    bounded: LocalSuite, stub: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    athletes = synthetic(ATHLETES, seed=11)
    submitted = submit(stub, athletes, f"bounded-{time.time()}")
    assert watch_to_end(stub, submitted.screening_id, timeout=120)[-1].state == encounter_pb2.SCREENING_STATE_DONE
    results = results_of(stub, submitted.screening_id)
    assert sorted(r.row_number for r in results) == list(range(1, ATHLETES + 1))  # each athlete once
    expected = screen_chunk(list(enumerate(athletes)), LocalBatchCalls())
    assert results == [r for _, r in expected]

    spans = chunk_spans(bounded, submitted.screening_id)
    assert len(spans) == ATHLETES // CHUNK
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        # a chunk takes 100s of ms here; unbounded, 7 chunks on 8 threads overlap by most of that
        assert start >= end - 0.05, "two chunks were screened at once in one worker process"


def test_concurrent_assessments_through_the_threads_worker_match_in_process(
    stub: encounter_pb2_grpc.EncounterServiceStub,
) -> None:
    """Every example case, several at once (the threads of one process share the stage
    channels and the work-up's background pool): each answer is the in-process one."""
    requests = example_requests() * 4
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda r: stub.Assess(r, timeout=30).assessment, requests))
    for request, answer in zip(requests, answers, strict=True):
        assert answer == assess_local(request)
    assert answers[0] != answers[1]  # different cases, different answers: nothing mixed up


def test_one_after_the_other_a_work_up_outage_fails_within_the_deadline_and_recovers(
    bounded: LocalSuite, stub: encounter_pb2_grpc.EncounterServiceStub
) -> None:
    """The busy worker's path (work-up called on the task's own thread, after treatment)
    reports a stopped work-up service as the pooled path does, and recovers by itself."""
    request = example_requests()[0]
    bounded.stop_process("workup")
    try:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            stub.Assess(request, timeout=3)
        assert raised.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        assert time.monotonic() - started < 3.5
    finally:
        bounded.start_service("workup")
        bounded.wait_service("workup")
    assert stub.Assess(request, timeout=10).assessment == assess_local(request)

"""The suite keeps working when parts fail: a service down, a worker killed, Redis restarted.

One suite for the module (Redis with its append-only file on, metrics on, a short broker
visibility timeout so a dead worker's task is re-queued in seconds, not minutes); each test
breaks one part and puts it back.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
import redis
from footcds.v1 import common_pb2, encounter_pb2, encounter_pb2_grpc

from devtools.suite import LocalSuite
from tests.conftest import example_request

pytestmark = pytest.mark.e2e
VISIBILITY_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    suite = LocalSuite(
        log_dir=tmp_path_factory.mktemp("resilience"), metrics=True,
        extra_env={"FOOTCDS_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT_S),
                   "FOOTCDS_UNACKED_RESTORE_INTERVAL_SECONDS": "1"},
    )
    try:
        suite.start_redis(appendonly=True)
        suite.start(redis=False)
        yield suite
    finally:
        suite.stop()


def assess(suite: LocalSuite, timeout: float, name: str = "tight_laces_runner") -> encounter_pb2.AssessResponse:
    with suite.channel("encounter") as channel:
        response: encounter_pb2.AssessResponse = encounter_pb2_grpc.EncounterServiceStub(channel).Assess(
            example_request(name), timeout=timeout
        )
        return response


def task_count(suite: LocalSuite, worker: str, task: str, state: str = "success") -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{suite.metrics_ports[worker]}/metrics", timeout=5).read().decode()
    match = re.search(rf'^footcds_celery_tasks_total{{state="{state}",task="{re.escape(task)}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_downstream_outage_fails_within_the_deadline_and_recovers_by_itself(fragile: LocalSuite) -> None:
    assert assess(fragile, 15).assessment.triage.level == common_pb2.TRIAGE_LEVEL_SELF_CARE
    fragile.stop_process("differential")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        assess(fragile, 3)
    elapsed = time.monotonic() - started
    assert raised.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert elapsed < 3.5, f"the caller waited {elapsed:.1f} s on a 3 s deadline"

    fragile.start_service("differential")
    fragile.wait_service("differential")
    # No manual step: the worker's channel reconnects by itself.
    response = assess(fragile, 10)
    assert response.assessment.differential.conditions[0].condition_id == "footwear_compression"


def test_a_worker_killed_mid_task_is_redelivered_and_completes_once(fragile: LocalSuite) -> None:
    assess(fragile, 15)  # the worker's channels are connected: the stopped service then hangs, not refuses
    broker = redis.Redis.from_url(fragile.redis_url)
    differential = fragile.processes["differential"]
    os.kill(differential.pid, signal.SIGSTOP)  # the differential stage hangs in its gRPC call
    outcome: dict[str, object] = {}

    def call() -> None:
        try:
            outcome["response"] = assess(fragile, 40, "cauda_equina_emergency")
        except grpc.RpcError as error:
            outcome["error"] = error

    caller = threading.Thread(target=call)
    try:
        caller.start()
        deadline = time.monotonic() + 10
        while broker.hlen("unacked") == 0:
            assert time.monotonic() < deadline, "the pipeline task never started"
            time.sleep(0.05)
        time.sleep(0.5)  # intake answers in milliseconds: the task now hangs in its differential call
        assert broker.hlen("unacked") == 1  # delivered to the worker, not acknowledged: mid-task
        fragile.stop_process("worker", signal.SIGKILL)  # parent and children, no chance to reject
    finally:
        os.kill(differential.pid, signal.SIGCONT)
    fragile.start_worker("worker2")
    caller.join(45)
    assert "error" not in outcome, outcome.get("error")
    response = outcome["response"]
    assert isinstance(response, encounter_pb2.AssessResponse)
    assert response.assessment.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY
    # The new worker ran the interrupted pipeline task exactly once (its stages are idempotent).
    # The count and the ack follow the answer the caller already has (the task pushes it on its
    # reply list, then returns): give them a moment to land, then they must.
    settle = time.monotonic() + 5
    while (
        task_count(fragile, "worker2", "footcds.assess.pipeline") == 0 or broker.hlen("unacked")
    ) and time.monotonic() < settle:
        time.sleep(0.05)
    assert task_count(fragile, "worker2", "footcds.assess.pipeline") == 1
    assert broker.hlen("unacked") == 0


def _screening_request(key: str) -> encounter_pb2.SubmitScreeningRequest:
    case = example_request("tight_laces_runner")
    athletes = [
        encounter_pb2.RosterEntry(athlete_ref=f"ath-{i}", row_number=i + 1, patient=case.patient,
                                  evidence=case.evidence, answers=case.answers)
        for i in range(3)
    ]
    return encounter_pb2.SubmitScreeningRequest(idempotency_key=key, athletes=athletes, team_label="resilience")


def test_an_accepted_screening_survives_a_redis_restart(fragile: LocalSuite) -> None:
    worker = next(name for name in fragile.processes if name.startswith("worker"))
    fragile.stop_process(worker)  # nothing runs it before Redis goes down
    with fragile.channel("encounter") as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        accepted = stub.SubmitScreening(_screening_request(f"restart-{time.time_ns()}"), timeout=10)
        assert accepted.total == 3

        fragile.stop_process("redis")  # SIGTERM: Redis writes its append-only file and exits
        fragile.start_redis(appendonly=True)
        fragile.start_worker("worker3")
        fragile.wait_worker()

        deadline = time.monotonic() + 30
        while True:
            try:
                summary = stub.GetScreeningSummary(
                    encounter_pb2.GetScreeningSummaryRequest(screening_id=accepted.screening_id), timeout=5
                ).summary
            except grpc.RpcError as error:  # the encounter's Redis connection comes back by itself
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            else:
                if summary.state == encounter_pb2.SCREENING_STATE_DONE:
                    break
                assert summary.state != encounter_pb2.SCREENING_STATE_FAILED
            assert time.monotonic() < deadline, "the accepted screening never finished after the restart"
            time.sleep(0.2)
    assert summary.screened == 3 and summary.total == 3

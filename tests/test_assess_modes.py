"""Every coordination shape of Assess gives the same answer and the same errors.

``FOOTCDS_ASSESS_MODE`` picks how the encounter reaches the four services: one pipeline
Celery task or direct gRPC calls (docs/performance.md).  One small suite runs the pipeline;
an encounter process in direct mode runs beside it on the same services, worker and Redis;
``assess_local`` (in-process) must agree with both.  The dropped chain mode is refused.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import grpc
import pytest
import redis
from footcds.v1 import common_pb2, encounter_pb2_grpc
from pydantic import ValidationError

from bench.procs import start_encounter
from devtools.suite import LocalSuite
from services.pipeline.local import assess_local
from services.platform.config import Settings
from services.platform.errors import violations_of
from tests.conftest import example_request

pytestmark = pytest.mark.e2e
OTHER_MODES = ("direct",)
EXAMPLES = ("tight_laces_runner", "mortons_neuroma", "cauda_equina_emergency")


@dataclass
class Modes:
    suite: LocalSuite
    stubs: dict[str, encounter_pb2_grpc.EncounterServiceStub]

    def __getitem__(self, mode: str) -> encounter_pb2_grpc.EncounterServiceStub:
        return self.stubs[mode]


@pytest.fixture(scope="module")
def modes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Modes]:
    suite = LocalSuite(log_dir=tmp_path_factory.mktemp("modes"), extra_env={"FOOTCDS_ASSESS_MODE": "pipeline"})
    channels: list[grpc.Channel] = []
    try:
        suite.start()
        keys = {mode: start_encounter(suite, mode) for mode in OTHER_MODES}
        for key in keys.values():
            suite.wait_service(key)
        stubs: dict[str, encounter_pb2_grpc.EncounterServiceStub] = {}
        for mode, key in {"pipeline": "encounter", **keys}.items():
            channels.append(suite.channel(key))
            stubs[mode] = encounter_pb2_grpc.EncounterServiceStub(channels[-1])
        yield Modes(suite, stubs)
    finally:
        for channel in channels:
            channel.close()
        suite.stop()


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_runner_gives_the_pipeline_tasks_assessment(
    modes: Modes, name: str
) -> None:
    request = example_request(name)
    reference = modes["pipeline"].Assess(request, timeout=15)
    assert assess_local(request) == reference.assessment, f"in-process differs from the task for {name}"
    assert reference.assessment.differential.conditions and reference.assessment.plan.items
    for mode in OTHER_MODES:
        response = modes[mode].Assess(request, timeout=15)
        assert response.assessment == reference.assessment, f"{mode} differs from the pipeline task for {name}"
        assert response.kb_version == reference.kb_version and "decision support" in response.disclaimer


def test_bad_input_names_the_same_field_in_every_mode(
    modes: Modes,
) -> None:
    request = example_request("tight_laces_runner")
    request.evidence.append(common_pb2.Evidence(finding_id="loc_moon", state=common_pb2.EVIDENCE_STATE_PRESENT))
    bad_index = len(request.evidence) - 1
    for mode in ("pipeline", *OTHER_MODES):
        with pytest.raises(grpc.RpcError) as raised:
            modes[mode].Assess(request, timeout=15)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, mode
        assert f"evidence[{bad_index}].finding_id" in [v.field for v in violations_of(raised.value)], mode


def test_direct_mode_gives_up_at_the_callers_deadline(modes: Modes) -> None:
    """The encounter itself stops at the caller's deadline (each call carries it as its gRPC
    timeout), rather than waiting on a hung service until a stage cap: its audit record of
    the failed Assess is written while the service is still hung."""
    trail = redis.Redis.from_url(modes.suite.redis_url, decode_responses=True)
    stream = Settings().audit_stream
    # redis-py types sync replies as Awaitable[Any] | Any (ResponseT, shared with its asyncio client)
    last = cast(list[tuple[str, dict[str, str]]], trail.xrevrange(stream, count=1))
    after = last[0][0] if last else "0-0"
    workup = modes.suite.processes["workup"]
    os.kill(workup.pid, signal.SIGSTOP)  # the workup call hangs: only the deadline can end it
    try:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            modes["direct"].Assess(example_request("mortons_neuroma"), timeout=1.0)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        record: dict[str, str] = {}
        while not record and time.monotonic() - started < 2.0:
            entries = cast(list[tuple[str, dict[str, str]]], trail.xrange(stream, min=f"({after}"))
            record = next((fields for _, fields in entries if fields["rpc"].endswith("/Assess")), {})
            time.sleep(0.02)
        gave_up_after = time.monotonic() - started
    finally:
        os.kill(workup.pid, signal.SIGCONT)
        trail.close()
    assert record.get("code") == "DEADLINE_EXCEEDED", record
    assert gave_up_after < 2.0
    assert modes["direct"].Assess(example_request("mortons_neuroma"), timeout=15).assessment.tests


def test_the_dropped_chain_mode_is_refused_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTCDS_ASSESS_MODE", "chain")
    with pytest.raises(ValidationError, match="FOOTCDS_ASSESS_MODE=chain was removed.*'pipeline' or 'direct'"):
        Settings()

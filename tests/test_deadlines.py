"""Calls without a deadline (grpcurl's default, and many EHR clients'): every RPC answers.

Issue 11: Assess without a deadline answered UNKNOWN ("Python int too large to convert to C
int") because gRPC's "no deadline" (time_remaining() = 9.2e18 s) became a Celery expiry and a
result wait that long.
Now every call gets a finite budget (services.platform.deadlines): the caller's deadline, else
the server's default.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from footcds.v1 import encounter_pb2, encounter_pb2_grpc
from google.protobuf.message import Message

from devtools.suite import LocalSuite
from services.platform.config import Settings
from services.platform.deadlines import NO_DEADLINE_SECONDS, budget_seconds
from tests.rpc_catalog import NEEDS_SCREENING, VALID, Rpc, all_rpcs

RPCS = all_rpcs()


def test_every_rpc_has_a_valid_request_in_the_catalog() -> None:
    assert {r.name for r in RPCS} == set(VALID)


def test_a_budget_is_always_finite_and_bounded() -> None:
    cfg = Settings(default_deadline_seconds=7, default_stream_deadline_seconds=70, max_deadline_seconds=700)
    grpc_no_deadline = 9.223372035e18  # what grpcio's time_remaining() reports without a deadline
    assert budget_seconds(grpc_no_deadline, streaming=False, cfg=cfg) == 7
    assert budget_seconds(grpc_no_deadline, streaming=True, cfg=cfg) == 70
    assert budget_seconds(None, streaming=False, cfg=cfg) == 7
    assert budget_seconds(float("inf"), streaming=False, cfg=cfg) == 7
    assert budget_seconds(NO_DEADLINE_SECONDS / 2, streaming=False, cfg=cfg) == 700  # absurd but finite: capped
    assert budget_seconds(3.5, streaming=False, cfg=cfg) == 3.5  # the caller's own deadline
    assert budget_seconds(-1, streaming=False, cfg=cfg) == 0


def call(channel: grpc.Channel, rpc: Rpc, request: Message, timeout: float | None) -> list[object]:
    """The responses of one call, made with the given timeout (None = no deadline)."""
    serialize = type(request).SerializeToString
    if rpc.streaming:
        stream = channel.unary_stream(rpc.method, request_serializer=serialize, response_deserializer=None)
        return list(stream(request, timeout=timeout))
    unary = channel.unary_unary(rpc.method, request_serializer=serialize, response_deserializer=None)
    return [unary(request, timeout=timeout)]


@pytest.fixture(scope="module")
def channels(suite: LocalSuite) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: suite.channel(name) for name in ("intake", "differential", "workup", "treatment", "encounter")}
    yield opened
    for channel in opened.values():
        channel.close()


@pytest.fixture(scope="module")
def screening_id(channels: dict[str, grpc.Channel]) -> str:
    """A finished screening, submitted and watched without a deadline."""
    stub = encounter_pb2_grpc.EncounterServiceStub(channels["encounter"])
    submitted = stub.SubmitScreening(VALID["SubmitScreening"](f"no-deadline-{uuid.uuid4().hex}"), timeout=None)
    last = list(stub.WatchScreening(encounter_pb2.WatchScreeningRequest(screening_id=submitted.screening_id)))[-1]
    assert last.state == encounter_pb2.SCREENING_STATE_DONE and last.done == 1
    return str(submitted.screening_id)


@pytest.mark.e2e
@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_every_rpc_answers_a_valid_request_without_a_deadline(
    channels: dict[str, grpc.Channel], screening_id: str, rpc: Rpc
) -> None:
    argument = screening_id if rpc.name in NEEDS_SCREENING else f"key-{uuid.uuid4().hex}"
    responses = call(channels[rpc.server], rpc, VALID[rpc.name](argument), timeout=None)
    assert responses and all(isinstance(r, bytes) for r in responses)


@pytest.mark.e2e
@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_every_rpc_refuses_an_empty_request_without_a_deadline_by_name(
    channels: dict[str, grpc.Channel], rpc: Rpc
) -> None:
    request = VALID[rpc.name]("")
    empty = type(request)()
    try:
        call(channels[rpc.server], rpc, empty, timeout=None)
    except grpc.RpcError as error:
        assert error.code() not in {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}, error.details()
        assert "int too large" not in (error.details() or "")


@pytest.mark.e2e
def test_without_a_deadline_the_server_budget_bounds_the_wait(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No worker: an Assess without a deadline ends at the server's default budget (not never,
    not UNKNOWN), and a watch without a deadline at the stream budget, both DEADLINE_EXCEEDED."""
    suite = LocalSuite(log_dir=tmp_path_factory.mktemp("budget"), extra_env={
        "FOOTCDS_DEFAULT_DEADLINE_SECONDS": "1.5", "FOOTCDS_DEFAULT_STREAM_DEADLINE_SECONDS": "2"})
    try:
        suite.start(worker=False)
        with suite.channel("encounter") as channel:
            stub = encounter_pb2_grpc.EncounterServiceStub(channel)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as assess:
                stub.Assess(VALID["Assess"](""), timeout=None)
            assert assess.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, assess.value.details()
            assert 1.2 < time.monotonic() - started < 6
            submitted = stub.SubmitScreening(VALID["SubmitScreening"]("budget"), timeout=None)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as watch:
                list(stub.WatchScreening(encounter_pb2.WatchScreeningRequest(screening_id=submitted.screening_id)))
            assert watch.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "watch again" in (watch.value.details() or "")
            assert 1.7 < time.monotonic() - started < 8
    finally:
        suite.stop()


@pytest.mark.e2e
def test_the_readme_service_config_is_accepted_and_retries_unavailable(suite: LocalSuite) -> None:
    """examples/grpc/service_config.json (README "Integrating from an EHR"): a client using it
    gets its answers, and a call the server answers UNAVAILABLE is retried, not failed."""
    import json
    from concurrent import futures

    from footcds.v1 import intake_pb2, intake_pb2_grpc

    from services.platform.tls import dial
    from tests.conftest import ROOT

    config = (ROOT / "examples" / "grpc" / "service_config.json").read_text()
    json.loads(config)
    options: list[tuple[str, int | str]] = [("grpc.service_config", config), ("grpc.enable_retries", 1)]
    with dial(suite.address("encounter"), token=suite.token, options=options) as channel:
        reply = encounter_pb2_grpc.EncounterServiceStub(channel).Assess(VALID["Assess"](""))  # the config's 10 s
        assert reply.assessment.triage.level
    # Failure injection: a server that is UNAVAILABLE twice (a restart, a drained pod), then answers.
    attempts: list[int] = []

    def flaky(request: bytes, context: grpc.ServicerContext) -> bytes:
        attempts.append(1)
        if len(attempts) <= 2:
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        return intake_pb2.GetIntakeFormResponse(kb_version="kb-test").SerializeToString()

    handler = grpc.method_handlers_generic_handler(
        "footcds.v1.IntakeService", {"GetIntakeForm": grpc.unary_unary_rpc_method_handler(flaky)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with dial(f"127.0.0.1:{port}", options=options) as channel:
            form = intake_pb2_grpc.IntakeServiceStub(channel).GetIntakeForm(VALID["GetIntakeForm"](""))
        assert form.kb_version == "kb-test" and len(attempts) == 3
    finally:
        server.stop(None)

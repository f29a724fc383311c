"""Scale-out with real processes: Redis behind Sentinel, and replicas that share the load.

A channel to a name with several addresses spreads its calls over all of them only with the
round_robin policy (gRPC keeps one connection per channel; pick_first pins a client to one
replica). Here two replicas of every domain service listen on their own ports and the worker
dials each service as one multi-address target, as it dials a headless Service in deploy/k8s;
every replica's own metrics must show calls. Then Redis is reached only through a Sentinel.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import cast

import pytest
from footcds.v1 import encounter_pb2_grpc, intake_pb2, intake_pb2_grpc

from devtools.suite import LocalSuite, free_port, redis_server_binary
from services.platform.redis_client import parse_sentinel_url
from tests.conftest import example_request

DOMAIN = ("intake", "differential", "workup", "treatment")


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def handled_calls(port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        int(float(m.group(1)))
        for m in re.finditer(r'^footcds_grpc_server_handled_total\{[^}]*grpc_code="OK"[^}]*\} (\S+)$', text, re.M)
    )


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSuite, dict[str, int]]]:
    suite = LocalSuite(log_dir=tmp_path_factory.mktemp("replicas"), metrics=True)
    second = {name: suite.ports.setdefault(f"{name}-2", free_port()) for name in DOMAIN}
    # Every client (the worker) sees each domain service as one name with two addresses.
    for name in DOMAIN:
        suite.extra_env[f"FOOTCDS_{name.upper()}_ADDR"] = (
            f"ipv4:127.0.0.1:{suite.ports[name]},127.0.0.1:{second[name]}"
        )
    try:
        suite.start(worker=False)
        for name in DOMAIN:
            suite.wait_service(suite.start_replica(name, 2))
        suite.start_worker()
        suite.wait_worker()
        yield suite, second
    finally:
        suite.stop()


def test_every_replica_serves_calls(replicated: tuple[LocalSuite, dict[str, int]]) -> None:
    suite, _ = replicated
    request = example_request("tight_laces_runner")
    with suite.channel("encounter") as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        for _ in range(40):
            assert stub.Assess(request, timeout=10).assessment.triage.level
    for name in DOMAIN:
        first, second = handled_calls(suite.metrics_ports[name]), handled_calls(suite.metrics_ports[f"{name}-2"])
        assert first >= 5 and second >= 5, f"{name}: replica calls {first} / {second}"


def _warm_until_both_serve(
    stub: intake_pb2_grpc.IntakeServiceStub, suite: LocalSuite, before: list[int], seconds: float = 15.0
) -> None:
    """Under a loaded machine round_robin may route the first calls to the one READY subchannel."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stub.GetIntakeForm(intake_pb2.GetIntakeFormRequest(), timeout=5)
        now = [handled_calls(suite.metrics_ports[n]) for n in ("intake", "intake-2")]
        if all(a > b for a, b in zip(now, before, strict=True)):
            return
        time.sleep(0.05)


def test_pick_first_would_pin_one_replica(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The control: the same setup with pick_first leaves one replica idle (why the policy matters)."""
    import grpc
    from footcds.v1 import intake_pb2, intake_pb2_grpc

    from services.platform.tls import dial

    suite = LocalSuite(log_dir=tmp_path_factory.mktemp("pinned"), metrics=True)
    try:
        suite.start_redis()
        suite.start_service("intake")
        suite.wait_service("intake")
        suite.wait_service(suite.start_replica("intake", 2))
        port2 = suite.ports["intake-2"]
        target = f"ipv4:127.0.0.1:{suite.ports['intake']},127.0.0.1:{port2}"
        counts = {}
        for policy in ("pick_first", "round_robin"):
            before = [handled_calls(suite.metrics_ports[n]) for n in ("intake", "intake-2")]
            with dial(target, token=suite.token, options=[("grpc.lb_policy_name", policy)]) as channel:
                stub = intake_pb2_grpc.IntakeServiceStub(channel)
                if policy == "round_robin":  # a subchannel still connecting gets no calls: wait until both serve
                    _warm_until_both_serve(stub, suite, before)
                    before = [handled_calls(suite.metrics_ports[n]) for n in ("intake", "intake-2")]
                for _ in range(20):
                    stub.GetIntakeForm(intake_pb2.GetIntakeFormRequest(), timeout=5)
            after = [handled_calls(suite.metrics_ports[n]) for n in ("intake", "intake-2")]
            counts[policy] = [a - b for a, b in zip(after, before, strict=True)]
        assert sorted(counts["pick_first"]) == [0, 20]
        assert min(counts["round_robin"]) >= 5
    except grpc.RpcError as exc:  # pragma: no cover - shown in the failure
        raise AssertionError(exc) from exc
    finally:
        suite.stop()


@pytest.fixture(scope="module")
def behind_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    log_dir = tmp_path_factory.mktemp("sentinel")
    suite = LocalSuite(log_dir=log_dir)
    sentinel_port = free_port()
    conf = log_dir / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {log_dir}\n"
        f"sentinel monitor footcds 127.0.0.1 {suite.redis_port} 1\n"
        "sentinel down-after-milliseconds footcds 5000\n"
    )
    suite.extra_env.update(FOOTCDS_REDIS_URL=f"sentinel://127.0.0.1:{sentinel_port}/0",
                           FOOTCDS_REDIS_SENTINEL_MASTER="footcds")
    try:
        suite.start_redis()
        suite._spawn("sentinel", [redis_server_binary(), str(conf), "--sentinel"])  # stopped with the suite
        deadline = time.monotonic() + 10
        while not _pong(sentinel_port):
            assert time.monotonic() < deadline, "sentinel did not start"
            time.sleep(0.1)
        suite.start(redis=False)
        yield suite
    finally:
        suite.stop()


def test_the_suite_runs_through_sentinel(behind_sentinel: LocalSuite) -> None:
    import redis

    with behind_sentinel.channel("encounter") as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        reply = stub.Assess(example_request("tight_laces_runner"), timeout=10)
    assert reply.assessment.differential.conditions and reply.assessment.triage.reasons
    # The audit record went through the Sentinel-discovered master, which is our Redis.
    plain = redis.Redis.from_url(behind_sentinel.redis_url)
    # redis-py types sync replies as Awaitable[Any] | Any (ResponseT, shared with its asyncio client)
    assert cast(int, plain.xlen("footcds:audit")) >= 1


def test_the_gateway_reaches_redis_through_sentinel(behind_sentinel: LocalSuite) -> None:
    """The HTTP gateway's asyncio client follows the same sentinels (its /healthz pings Redis)."""
    behind_sentinel.start_gateway()  # waits for /healthz: 200 only when Redis answered
    with urllib.request.urlopen(f"{behind_sentinel.gateway_url}/healthz", timeout=5) as reply:
        assert reply.status == 200


def test_sentinel_urls_parse_like_celery_writes_them() -> None:
    target = parse_sentinel_url("sentinel://:s3cret@h1:26379/2;sentinel://:s3cret@h2:26380/2")
    assert target.hosts == (("h1", 26379), ("h2", 26380))
    assert target.password == "s3cret" and target.db == 2
    with pytest.raises(ValueError, match="FOOTCDS_REDIS_URL"):
        parse_sentinel_url("redis://h1:6379/0")

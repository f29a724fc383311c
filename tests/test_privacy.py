"""Patient data never reaches a log: a unique marker in a case's fields, then every log line.

The suite runs at DEBUG (services and worker) so that the most talkative logging is what is
checked. The marker rides in the patient reference and the activity of a case that succeeds,
and in a finding id, a context flag and a question id of cases that fail; also in a bad
token. Each call is checked to have really carried it (the answer echoes it, or the error
names it back to the caller), then no log file of any process may contain it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import cast

import grpc
import pytest
import redis
from footcds.v1 import common_pb2, encounter_pb2, encounter_pb2_grpc, intake_pb2, intake_pb2_grpc

from devtools.suite import LocalSuite
from services.worker.replies import REPLY_PREFIX
from tests.conftest import example_request

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chatty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    suite = LocalSuite(log_dir=tmp_path_factory.mktemp("privacy"), extra_env={"FOOTCDS_LOG_LEVEL": "DEBUG"})
    try:
        suite.start()
        yield suite
    finally:
        suite.stop()


def _failing_cases(marker: str) -> list[tuple[encounter_pb2.AssessRequest, str]]:
    finding = example_request("tight_laces_runner")
    finding.evidence.add(finding_id=f"loc_{marker}", state=common_pb2.EVIDENCE_STATE_PRESENT)
    flag = example_request("tight_laces_runner")
    flag.patient.context_flags.append(f"flag_{marker}")
    answer = example_request("tight_laces_runner")
    answer.answers.add(question_id=f"q_{marker}", option_ids=["dorsum"])
    return [(finding, "evidence[10].finding_id"), (flag, "patient.context_flags[0]"),
            (answer, "answers[0].question_id")]


# redis-py types every sync reply as ResponseT = Awaitable[Any] | Any (one signature shared with
# its asyncio client); a sync client returns the value, so the casts below state what RESP returns.
def _redis_values(client: redis.Redis) -> Iterator[tuple[bytes, bytes]]:
    for key in client.scan_iter(count=500):
        kind = client.type(key)
        if kind == b"string":
            yield key, cast(bytes | None, client.get(key)) or b""
        elif kind == b"hash":
            pairs = cast(dict[bytes, bytes], client.hgetall(key))
            yield key, b" ".join(k + b"=" + v for k, v in pairs.items())
        elif kind == b"list":
            yield key, b" ".join(cast(list[bytes], client.lrange(key, 0, -1)))
        elif kind == b"stream":
            entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(key))
            yield key, b" ".join(v for _, fields in entries for v in fields.values())


def test_a_marker_in_case_fields_reaches_no_log_line(chatty: LocalSuite) -> None:
    marker = f"zq{uuid.uuid4().hex}"
    ok = example_request("tight_laces_runner")
    ok.patient.patient_ref = f"ref-{marker}"
    ok.patient.activity = f"trail runner {marker}"
    with chatty.channel("encounter") as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        answer = stub.Assess(ok, timeout=15)
        assert answer.assessment.patient.patient_ref == ok.patient.patient_ref  # it went all the way through
        for request, field in _failing_cases(marker):
            with pytest.raises(grpc.RpcError) as raised:
                stub.Assess(request, timeout=15)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (raised.value.details() or "") and marker in (raised.value.details() or "")
    with chatty.channel("intake") as channel:  # a domain service's own error path
        with pytest.raises(grpc.RpcError) as raised:
            intake_pb2_grpc.IntakeServiceStub(channel).NormalizeIntake(
                intake_pb2.NormalizeIntakeRequest(patient=ok.patient, evidence=_failing_cases(marker)[0][0].evidence),
                timeout=5,
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for token in ("", f"tok-{marker}"):  # refused calls, and a bad token itself, are not logged either
        with chatty.channel("encounter", token=token) as channel:
            with pytest.raises(grpc.RpcError) as raised:
                encounter_pb2_grpc.EncounterServiceStub(channel).Assess(ok, timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    time.sleep(0.3)  # let the processes' last lines reach their files

    logs = {path.stem: path.read_text(errors="replace") for path in chatty.log_dir.glob("*.log")}
    assert {"intake", "differential", "workup", "treatment", "encounter", "worker", "redis"} <= set(logs)
    # The check is not vacuous: the calls above were logged, at DEBUG, by every process.
    assert '"event": "assessed"' in logs["encounter"] and '"event": "unauthenticated"' in logs["encounter"]
    assert '"level": "debug"' in logs["worker"]
    for name, text in logs.items():
        assert marker not in text.lower(), f"{name}.log carries patient data"

    # Redis: the audit trail holds hashes only; an Assess answer leaves Redis when the encounter
    # takes it off its reply list; anything else holding the case expires.
    client = redis.Redis.from_url(chatty.redis_url)
    audit = [value for key, value in _redis_values(client) if key.startswith(b"footcds:audit")]
    assert audit, "the audit trail was expected in Redis"  # the scan below is not vacuous
    holders = [key for key, value in _redis_values(client) if marker.encode() in value]
    assert not [key for key in holders if key.startswith(REPLY_PREFIX.encode())], "an answer was left behind"
    for key in holders:
        assert not key.startswith(b"footcds:audit"), "the audit trail must hold hashes, not case data"
        assert 0 < cast(int, client.ttl(key)) <= 3600, f"{key!r} holds case data and does not expire"

"""The suite's own hops after the fourth performance pass (docs/performance.md).

Against the session suite's real Redis and servers:

* the stage clients (worker, direct mode) carry the service identity's token on every call
  without an intercepted channel: a call with the right token is answered, one with a wrong
  token is refused, and a caller's own metadata still travels beside it;
* the Celery producer that skips kombu's retry wrapper for an already-declared queue still
  declares a queue the first time, and again after its connection is re-established (when
  kombu forgets what it declared, so the
  declaration runs again);
* the encounter's response parsed from the task's bytes is the response built from the
  parsed Assessment, with and without the FHIR Bundle;
* the Assess task's reply list (``services.worker.replies``): a task that breaks tells the
  waiting caller at once (INTERNAL, not a wait until the deadline), a caller whose answer
  never comes gives up at its deadline, and an answer nobody takes expires soon after it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import cast

import grpc
import pytest
import redis
from celery import Celery
from footcds.v1 import intake_pb2, intake_pb2_grpc

from devtools.suite import LocalSuite
from services.encounter.handlers import assess_response, assess_response_from_bytes
from services.pipeline import stages
from services.pipeline.clients import AuthorizedChannel, in_background
from services.pipeline.errors import StageFailed
from services.pipeline.local import assess_local
from services.platform.config import settings
from services.platform.deadlines import DeadlineExpired
from services.platform.tls import dial
from services.worker import replies
from services.worker.app import _LeanProducer
from services.worker.tasks import pipeline_stage
from tests.conftest import EXAMPLES, example_request

pytestmark = pytest.mark.e2e


def _intake_request() -> intake_pb2.NormalizeIntakeRequest:
    return stages.intake_request(example_request(sorted(EXAMPLES.glob("*.json"))[0].stem))


def test_stage_calls_carry_the_service_token_and_the_callers_metadata(suite: LocalSuite) -> None:
    good = AuthorizedChannel(dial(suite.address("intake")), suite.service_token)
    bad = AuthorizedChannel(dial(suite.address("intake")), "not-a-token")
    try:
        stub = intake_pb2_grpc.IntakeServiceStub(good)
        request = _intake_request()
        answer = stub.NormalizeIntake(request, timeout=10)
        assert answer.evidence and answer.disclaimer
        assert stub.NormalizeIntake.future(request, timeout=10).result() == answer
        _, call = stub.NormalizeIntake.with_call(request, timeout=10, metadata=(("x-request-note", "t"),))
        assert call.code() == grpc.StatusCode.OK
        with pytest.raises(grpc.RpcError) as refused:
            intake_pb2_grpc.IntakeServiceStub(bad).NormalizeIntake(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # A call made beside another (work-up beside treatment) answers, or raises, the same.
        assert in_background(stub.NormalizeIntake, request, 10).result() == answer
        with pytest.raises(grpc.RpcError) as refused:
            in_background(intake_pb2_grpc.IntakeServiceStub(bad).NormalizeIntake, request, 10).result()
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        good.close()
        bad.close()



def test_producer_declares_a_queue_once_per_connection_and_again_after_a_reconnect(
    suite: LocalSuite, transport_app: Celery
) -> None:
    app = transport_app
    client = redis.Redis.from_url(suite.redis_url)
    queue = "footcds-declare-test"
    binding = f"_kombu.binding.{queue}"  # Celery's missing queue: an exchange of the same name
    client.delete(queue, binding)
    try:
        with app.producer_or_acquire() as producer:
            assert isinstance(producer, _LeanProducer)
            for _ in range(3):
                app.send_task("footcds.nothing", args=(b"x",), queue=queue, producer=producer)
            assert client.exists(binding), "the first publish declares and binds the queue"
            assert client.llen(queue) == 3
            declared = set(producer.connection.declared_entities)
            assert declared, "kombu's declaration cache holds the queue"
            # A re-established connection forgets what it declared: the next publish takes
            # kombu's declaring path again (and fills the cache again), not the shortcut.
            producer.connection.declared_entities.clear()
            app.send_task("footcds.nothing", args=(b"x",), queue=queue, producer=producer)
            refilled = set(producer.connection.declared_entities)
            # Refilled with this queue's entities (a subset: an earlier test's publishes on the
            # same pooled connection may have declared more the first time).
            assert refilled and refilled <= declared
            assert client.llen(queue) == 4
    finally:
        client.delete(queue, binding)


@pytest.mark.parametrize("fhir", [False, True])
def test_response_from_the_tasks_bytes_equals_the_one_from_the_assessment(fhir: bool) -> None:
    for path in sorted(EXAMPLES.glob("*.json"))[:3]:
        assessment = assess_local(example_request(path.stem))
        from_bytes = assess_response_from_bytes(assessment.SerializeToString(), fhir)
        expected = assess_response(assessment, fhir)
        assert from_bytes == expected
        assert from_bytes.kb_version and from_bytes.disclaimer == assessment.disclaimer
        assert bool(from_bytes.fhir_bundle_json) is fhir
        assert from_bytes.assessment.triage.level == assessment.triage.level


@pytest.fixture
def on_suite_redis(suite: LocalSuite, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """This process's settings pointed at the suite's Redis (restored afterwards)."""
    monkeypatch.setenv("FOOTCDS_REDIS_URL", suite.redis_url)
    settings.cache_clear()
    replies.client.cache_clear()
    try:
        yield redis.Redis.from_url(suite.redis_url)
    finally:
        monkeypatch.undo()
        settings.cache_clear()
        replies.client.cache_clear()


def test_a_task_that_breaks_tells_the_waiting_caller_at_once(on_suite_redis: redis.Redis) -> None:
    key = replies.reply_key(f"test-{uuid.uuid4().hex}")
    deadline = time.time() + 20
    with pytest.raises(Exception):  # noqa: B017 - whatever broke, the worker still sees it raised
        pipeline_stage({"request": b"\xff not a protobuf", "deadline": deadline, "reply": key})
    started = time.monotonic()
    with pytest.raises(StageFailed) as failed:
        replies.wait(key, deadline)
    assert failed.value.status_code() == grpc.StatusCode.INTERNAL
    assert time.monotonic() - started < 2, "the caller waited for its deadline"
    assert not on_suite_redis.exists(key), "the reply is taken off Redis when read"


def test_a_failure_travels_with_its_field_violations(on_suite_redis: redis.Redis) -> None:
    key = replies.reply_key(f"test-{uuid.uuid4().hex}")
    failure = StageFailed("INVALID_ARGUMENT", "intake: bad", [["evidence[0].finding", "unknown finding"]])
    replies.send_failure(key, failure, time.time() + 5)
    with pytest.raises(StageFailed) as failed:
        replies.wait(key, time.time() + 5)
    assert failed.value.status_code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.description) for v in failed.value.violations] == [("evidence[0].finding", "unknown finding")]


def test_a_caller_gives_up_at_its_deadline_and_an_untaken_answer_expires(on_suite_redis: redis.Redis) -> None:
    key = replies.reply_key(f"test-{uuid.uuid4().hex}")
    started = time.monotonic()
    with pytest.raises(DeadlineExpired):
        replies.wait(key, time.time() + 1.5)  # longer than one blocking slice
    assert 1.4 < time.monotonic() - started < 2.5
    replies.send_answer(key, b"late answer", time.time() + 1)
    assert 0 < cast(int, on_suite_redis.ttl(key)) <= 1 + replies.GRACE_SECONDS
    assert replies.wait(key, time.time() + 1) == b"late answer"

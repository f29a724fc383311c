"""The Celery app's transport: one Redis client per channel, no repr of the arguments.

Against the suite's real Redis: a task published through FootCDS's transport carries its
arguments in the body only (the ``argsrepr`` header Celery fills for monitors would repeat
the patient's data in clear text), and the channel hands out the same Redis client for every
publish instead of building one per call (profiled: ~2-3% of the encounter's and worker's CPU).
"""

from __future__ import annotations

import base64
import json
from typing import cast

import msgpack
import redis
from celery import Celery

from devtools.suite import LocalSuite
from services.worker.app import ARGS_OMITTED, RedisTransport, broker_transport


def test_published_task_keeps_its_arguments_out_of_the_headers(suite: LocalSuite, transport_app: Celery) -> None:
    app = transport_app
    queue = "footcds-transport-test"
    marker = "Marker-Patient-7Q"
    app.send_task("footcds.nothing", args=(marker.encode(), {"note": marker}), queue=queue)
    # redis-py types sync replies as Awaitable[Any] | Any (ResponseT, shared with its asyncio client)
    raw = cast(bytes | None, redis.Redis.from_url(suite.redis_url).lpop(queue))
    assert raw is not None, "the task was not published"
    message = json.loads(raw)
    assert message["headers"]["argsrepr"] == ARGS_OMITTED
    assert message["headers"]["kwargsrepr"] == ARGS_OMITTED
    assert marker not in json.dumps(message["headers"])
    args, _kwargs, _embed = msgpack.unpackb(base64.b64decode(message["body"]))
    assert args[0] == marker.encode() and args[1] == {"note": marker}  # the worker still gets them


def test_channel_reuses_one_redis_client_per_pool(suite: LocalSuite, transport_app: Celery) -> None:
    app = transport_app
    with app.connection_for_write() as conn:
        assert conn.transport_cls is RedisTransport
        channel = conn.default_channel
        first = channel._create_client()
        for _ in range(3):
            app.send_task("footcds.nothing", args=(b"x",), queue="footcds-transport-test")
        assert channel._create_client() is first
        assert first.ping()
    redis.Redis.from_url(suite.redis_url).delete("footcds-transport-test")


def test_other_schemes_keep_kombus_own_transport() -> None:
    assert broker_transport("rediss://example:6380/0") is None
    assert broker_transport("sentinel://a:26379;sentinel://b:26379") is not None


def test_cached_bindings_still_route_every_message_and_see_new_queues(
    suite: LocalSuite, transport_app: Celery
) -> None:
    from kombu.entity import Exchange, Queue  # where they are defined: kombu/__init__ re-exports them lazily

    app = transport_app
    client = redis.Redis.from_url(suite.redis_url)
    exchange = Exchange("footcds-transport-x", type="direct")
    first, second = "footcds-transport-q1", "footcds-transport-q2"
    try:
        with app.connection_for_write() as conn:
            producer = conn.Producer(serializer="msgpack")
            producer.publish({"n": 0}, exchange=exchange, routing_key="one",
                             declare=[Queue(first, exchange, routing_key="one")])
            for n in range(1, 5):
                producer.publish({"n": n}, exchange=exchange, routing_key="one")
            # a queue bound now (within the cache's lifetime) gets its messages at once
            producer.publish({"n": 9}, exchange=exchange, routing_key="two",
                             declare=[Queue(second, exchange, routing_key="two")])
        assert client.llen(first) == 5
        assert client.llen(second) == 1
    finally:
        client.delete(first, second)

"""The Assess task's answer, handed to the waiting encounter on a Redis list (``BLPOP``).

Why not Celery's result backend for this one task: the Redis backend subscribes to a
pub/sub channel per task at publish time (a round trip), the worker stores the result
(``SET`` + ``PUBLISH``) and the waiting caller drains pub/sub messages, decodes Celery's
result envelope, re-reads the key and unsubscribes.  Under load that was ~18% of the
encounter's and ~17% of the worker pool's CPU samples (docs/performance.md, fourth pass).
A reply list does the same job with one ``RPUSH`` + ``EXPIRE`` (one pipeline) in the
worker and one blocking pop in the encounter, and the answer (patient data) lives in Redis
only until the caller takes it, or a few seconds past the caller's deadline.

The task is still a Celery task on the same queue with the same acknowledgement, retry and
redelivery rules: a redelivered or retried task pushes its answer when it finishes, and the
encounter is still waiting on the same key if the deadline allows.
"""

from __future__ import annotations

import math
import os
import time
from functools import cache
from typing import cast

import msgpack
import redis

from services.pipeline.errors import StageFailed
from services.platform.config import settings
from services.platform.deadlines import remaining
from services.platform.redis_client import redis_client

REPLY_PREFIX = "footcds:assess:reply:"
GRACE_SECONDS = 5  # the reply outlives the caller's deadline by this much, then expires
WAIT_SLICE_SECONDS = 1.0  # each blocking pop is at most this long ...
SOCKET_TIMEOUT_SECONDS = 5.0  # ... so a Redis that stops answering is noticed within this
OK, FAILED = "ok", "failed"


def reply_key(task_id: str) -> str:
    return f"{REPLY_PREFIX}{task_id}"


@cache
def client() -> redis.Redis:
    """One client per process (thread-safe: a pool of connections), made again after a fork."""
    return redis_client(settings(), socket_connect_timeout=2, socket_timeout=SOCKET_TIMEOUT_SECONDS)


os.register_at_fork(after_in_child=client.cache_clear)


def _push(key: str, payload: bytes, deadline: float) -> None:
    ttl = max(math.ceil(deadline - time.time()), 0) + GRACE_SECONDS
    pipe = client().pipeline(transaction=False)
    pipe.rpush(key, payload)
    pipe.expire(key, ttl)
    pipe.execute()


def send_answer(key: str, assessment: bytes, deadline: float) -> None:
    """The serialized Assessment, for the encounter waiting on ``key``."""
    _push(key, msgpack.packb([OK, assessment]), deadline)


def send_failure(key: str, failure: StageFailed, deadline: float) -> None:
    """A failure as ``StageFailed``'s plain values (same status, same field violations)."""
    violations = [[v.field, v.description] for v in failure.violations]
    _push(key, msgpack.packb([FAILED, failure.code, failure.message, violations]), deadline)


def wait(key: str, deadline: float) -> bytes:
    """The serialized Assessment pushed on ``key``; raises the task's ``StageFailed``,
    ``DeadlineExpired`` when the deadline passes first, or a Redis error."""
    redis_ = client()
    while True:
        # At least 2 ms: Redis reads a timeout below 1 ms as 0, which blocks for ever.
        timeout = max(remaining(deadline, cap=WAIT_SLICE_SECONDS), 0.002)
        # redis-py types sync replies as Awaitable[Any] | Any (shared with its asyncio client)
        popped = cast(list[bytes] | None, redis_.blpop([key], timeout=timeout))
        if popped is None:
            continue  # the slice ran out: ``remaining`` raises once the deadline has passed
        reply = msgpack.unpackb(popped[1])
        if reply[0] == OK:
            answer: bytes = reply[1]
            return answer
        raise StageFailed(reply[1], reply[2], reply[3])

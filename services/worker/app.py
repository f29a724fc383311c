"""The Celery application: Redis as broker and result backend, every default in one place.

Tasks are idempotent (a re-run recomputes the same answer from the same input), so they are
acknowledged late and re-queued if a worker dies mid-task.  Payloads are msgpack: the
stage messages travel as serialized protobuf bytes, never pickled objects.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery, signals
from celery.app.amqp import AMQP
from kombu.messaging import Producer
from kombu.transport import redis as kombu_redis

from services.platform.config import settings
from services.platform.logging import configure_logging
from services.platform.metrics import connect_worker_signals
from services.platform.redis_client import celery_transport_options

QUEUE = "footcds"


@signals.setup_logging.connect
def _json_logs(loglevel: int | str | None = None, **_: Any) -> None:
    """The worker logs like the servers: JSON with safe fields only, never task arguments or
    results (Celery's own formats interpolate both, e.g. "succeeded in 0.01s: <state>")."""
    if "FOOTCDS_LOG_LEVEL" in os.environ:  # as the servers; else celery's --loglevel
        level = settings().log_level
    else:
        level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else (loglevel or "WARNING")
    configure_logging("worker", str(level))


connect_worker_signals()


# What a task message's ``argsrepr``/``kwargsrepr`` headers say instead of a repr of the
# arguments: the arguments are patient data (serialized protobuf), and the repr Celery builds
# for every publish (``saferepr``, ~5% of the encounter's CPU under load) only feeds monitors.
ARGS_OMITTED = "(omitted: patient data)"


class _LeanProducer(Producer):
    """A producer that asks kombu's declaration cache before the retry wrapper.

    Celery publishes every task with ``declare=[queue]`` and retries on; kombu then wraps
    the declaration in ``Connection.ensure`` (a new closure and error-translating context
    per publish) and only inside it finds the queue already declared on this connection.
    The same cache (``declared_entities``, cleared whenever the connection is re-established)
    is read first here, so a declared queue costs a set lookup; anything else takes
    kombu's path unchanged.
    """

    def maybe_declare(self, entity: Any, retry: bool = False, **retry_policy: Any) -> Any:
        channel = self.channel
        connection = getattr(channel, "connection", None) if channel is not None else None
        if (
            entity is not None
            and connection is not None
            and entity.can_cache_declaration
            and hash(entity) in connection.client.declared_entities
        ):
            return False
        return super().maybe_declare(entity, retry, **retry_policy)  # type: ignore[no-untyped-call]


class _NoArgsReprAMQP(AMQP):
    """Celery's AMQP that never puts a repr of the arguments in a message's headers, and
    publishes through ``_LeanProducer``."""

    Producer = _LeanProducer

    @property
    def producer_pool(self) -> Any:
        """Celery's pool (kombu's ``pools.producers``), making ``_LeanProducer``s: producers
        are created lazily on first acquire, so setting the class before that is enough."""
        pool = super().producer_pool
        if pool.Producer is not _LeanProducer:
            pool.Producer = _LeanProducer
        return pool

    def as_task_v2(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["argsrepr"] = kwargs.get("argsrepr") or ARGS_OMITTED
        kwargs["kwargsrepr"] = kwargs.get("kwargsrepr") or ARGS_OMITTED
        return super().as_task_v2(*args, **kwargs)


class _LeanChannel:
    """Two per-publish costs of kombu's Redis channel, measured by ``python -m bench.plumbing``.

    * kombu builds a new ``redis.Redis`` for every publish, ack and QoS update
      (``conn_or_acquire`` -> ``_create_client``: ~100 response callbacks copied into a
      ``CaseInsensitiveDict`` each time).  A client is only a handle on the channel's
      connection pool and is thread-safe, so one per pool serves every call.
    * Every publish first reads the exchange's bindings from Redis (``SMEMBERS``, one more
      round trip).  Bindings change when a queue is declared or deleted: a non-empty table
      is kept for ``TABLE_TTL_S`` and dropped at once when this channel binds or deletes.
    """

    TABLE_TTL_S = 1.0
    _footcds_client: Any = None
    _footcds_tables: dict[str, tuple[float, list[tuple[str, ...]]]] | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        pool = self.pool  # type: ignore[attr-defined]
        cached = self._footcds_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._footcds_client = super()._create_client(asynchronous=False)  # type: ignore[misc]
        return cached

    def get_table(self, exchange: str) -> list[tuple[str, ...]]:
        tables = self._footcds_tables
        if tables is None:
            tables = self._footcds_tables = {}
        now = time.monotonic()
        hit = tables.get(exchange)
        if hit is not None and now - hit[0] < self.TABLE_TTL_S:
            return hit[1]
        table: list[tuple[str, ...]] = super().get_table(exchange)  # type: ignore[misc]
        if table:
            tables[exchange] = (now, table)
        return table

    def _queue_bind(self, *args: Any, **kwargs: Any) -> Any:
        self._footcds_tables = None
        return super()._queue_bind(*args, **kwargs)  # type: ignore[misc]

    def _delete(self, *args: Any, **kwargs: Any) -> Any:
        self._footcds_tables = None
        return super()._delete(*args, **kwargs)  # type: ignore[misc]


class _Channel(_LeanChannel, kombu_redis.Channel):
    pass


class _SentinelChannel(_LeanChannel, kombu_redis.SentinelChannel):
    pass


class RedisTransport(kombu_redis.Transport):
    Channel = _Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = _SentinelChannel


def broker_transport(url: str) -> type | None:
    """The client-reusing transport for ``redis://`` and ``sentinel://`` brokers (others as is)."""
    scheme = url.split("://", 1)[0]
    return {"redis": RedisTransport, "sentinel": SentinelTransport}.get(scheme)


def make_app() -> Celery:
    cfg = settings()
    app = Celery(
        "footcds", broker=cfg.redis_url, backend=cfg.redis_url, amqp=_NoArgsReprAMQP,
        include=["services.worker.tasks", "services.worker.screening_tasks"],
    )
    app.conf.update(
        task_serializer="msgpack",
        result_serializer="msgpack",
        accept_content=["msgpack", "json"],  # json: control messages (ping, inspect)
        result_accept_content=["msgpack"],
        result_expires=cfg.result_ttl_seconds,
        broker_transport=broker_transport(cfg.redis_url),
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            **celery_transport_options(cfg),
            "visibility_timeout": cfg.visibility_timeout_seconds, "socket_connect_timeout": 2,
            # sweep for tasks of a killed worker every interval (kombu default: 10 x 10 s)
            "unacked_restore_interval": cfg.unacked_restore_interval_seconds, "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={**celery_transport_options(cfg), "socket_connect_timeout": 2},
        redis_socket_connect_timeout=2,
        redis_socket_timeout=30,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5
        },
    )
    return app


app = make_app()

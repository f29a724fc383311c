"""Prometheus metrics: every RPC of every service, every task of the worker.

Servers count RPCs by service, method and status code, observe their latency and track
calls in flight (``MetricsInterceptor``, installed by ``start_server``). The worker counts
Celery tasks by name and final state and observes their durations through Celery signals.
Each process serves ``/metrics`` over HTTP on ``FOOTCDS_METRICS_PORT`` (0 or unset = off),
bound to ``FOOTCDS_BIND_HOST``.

The worker runs a threads pool (one process); with a prefork pool (``--pool prefork``) its
tasks would run in children, so the worker uses prometheus-client's
multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty writable directory for the
worker (docker-compose and ``LocalSuite`` do); the parent process serves the children's sum.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

from services.platform.interceptors import Behavior, BehaviorInterceptor, iterate, split_method, status_of

log = logging.getLogger("footcds.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

RPC_HANDLED = Counter(
    "footcds_grpc_server_handled_total", "RPCs completed, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_SECONDS = Histogram(
    "footcds_grpc_server_handling_seconds", "Time from a call reaching its handler to its last response.",
    ["grpc_service", "grpc_method"], buckets=LATENCY_BUCKETS,
)
RPC_IN_FLIGHT = Gauge(
    "footcds_grpc_server_in_flight", "Calls being handled now.", ["grpc_service", "grpc_method"],
    multiprocess_mode="livesum",
)
TASKS = Counter("footcds_celery_tasks_total", "Celery tasks run, by task name and final state.", ["task", "state"])
TASK_SECONDS = Histogram(
    "footcds_celery_task_seconds", "Celery task run time (one attempt).", ["task"], buckets=LATENCY_BUCKETS
)

# CDS Hooks (the gateway): cards shown and what clinicians did with them, per card kind
# (services/gateway/cds_hooks; the topic code, e.g. assessment-emergency, order-better-test).
CDS_CARDS = Counter("footcds_cds_cards_total", "CDS Hooks cards returned, by service, card kind and indicator.",
                    ["service", "card_kind", "indicator"])
CDS_FEEDBACK = Counter(
    "footcds_cds_feedback_total", "CDS Hooks feedback by service, card kind, indicator and outcome.",
    ["service", "card_kind", "indicator", "outcome"],
)


class MetricsInterceptor(BehaviorInterceptor):
    """Outermost interceptor: sees every call, including those auth or limits refuse."""

    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        service, name = split_method(method)
        seconds = RPC_SECONDS.labels(service, name)
        in_flight = RPC_IN_FLIGHT.labels(service, name)
        # One child per status code, looked up once: ``labels()`` takes a lock and builds a
        # key on every call (~3% of a service's CPU in the profile); the code is known at the end.
        handled: dict[grpc.StatusCode, Any] = {}

        def finish(started: float, context: grpc.ServicerContext, error: BaseException | None) -> None:
            in_flight.dec()
            seconds.observe(time.perf_counter() - started)
            code = status_of(context, error)
            counter = handled.get(code)
            if counter is None:
                counter = handled[code] = RPC_HANDLED.labels(service, name, code.name)
            counter.inc()

        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                started = time.perf_counter()
                in_flight.inc()
                error: BaseException | None = None
                try:
                    yield from iterate(behavior, request, context)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    finish(started, context, error)

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            in_flight.inc()
            error: BaseException | None = None
            try:
                return behavior(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                finish(started, context, error)

        return unary



class _SettledFilesCollector(multiprocess.MultiProcessCollector):
    """The multiprocess sum, skipping a file another thread or process is creating right now.

    prometheus-client creates a process's file, then sizes it: for that instant the file is
    empty, and the library's collector fails on it (``struct.error``), so a scrape that lands
    then answers 500 (seen when a restarted worker counted its first task while being
    scraped). An empty file holds no sample yet; the next scrape reads it.
    """

    def collect(self) -> Any:
        settled = []
        for path in glob.glob(os.path.join(self._path, "*.db")):
            try:
                if os.path.getsize(path) >= _MMAP_HEADER_BYTES:
                    settled.append(path)
            except FileNotFoundError:  # removed since the glob (a dead process's live gauge)
                continue
        return self.merge(settled, accumulate=True)  # type: ignore[no-untyped-call]


# prometheus-client's mmap file starts with its 4-byte used-size and 4 bytes of padding.
_MMAP_HEADER_BYTES = 8


def multiprocess_registry(directory: str) -> CollectorRegistry:
    """A registry serving the sum of every process writing under ``directory``."""
    registry = CollectorRegistry()
    _SettledFilesCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; 0 = off.

    Under ``PROMETHEUS_MULTIPROC_DIR`` (the worker) the served registry sums every process.
    """
    if not port:
        return
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = multiprocess_registry(directory) if directory else None
    if registry is None:
        start_http_server(port, addr=host)
    else:
        start_http_server(port, addr=host, registry=registry)
    log.info("metrics serving", extra={"port": port, "address": host})


# --- the worker: Celery signals -------------------------------------------------------


_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None) if task_id else None
    name = getattr(task, "name", None) or "unknown"
    TASKS.labels(name, (state or "UNKNOWN").lower()).inc()
    if started is not None:
        TASK_SECONDS.labels(name).observe(time.perf_counter() - started)


def _worker_init(**_: Any) -> None:
    from services.platform.config import settings

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # a fresh start: counters of earlier runs must not be summed in
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink(missing_ok=True)
    elif settings().metrics_port:
        log.warning("PROMETHEUS_MULTIPROC_DIR is unset: only the parent process's metrics are served")
    cfg = settings()
    serve_metrics(cfg.metrics_port, cfg.bind_host)


def _process_shutdown(pid: int | None = None, **_: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


def connect_worker_signals() -> None:
    """Count tasks in the worker and serve /metrics from its parent process."""
    from celery import signals

    signals.task_prerun.connect(_task_prerun, weak=False)
    signals.task_postrun.connect(_task_postrun, weak=False)
    signals.worker_init.connect(_worker_init, weak=False)
    signals.worker_process_shutdown.connect(_process_shutdown, weak=False)

"""The one server bootstrap every FootCDS service uses.

A service module gives a name, the servicers to add and the service names for health and
reflection; this module does the rest: a thread-pool gRPC server (chosen over grpc.aio by
measurement, see README), the standard health service, reflection, message-size limits,
and a graceful stop on SIGTERM/SIGINT that flips health to NOT_SERVING first. Every server
gets the same trust layer: TLS/mTLS from configuration and the metrics, auth, per-client
limit and audit interceptors (README "Security").
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.platform.audit import AuditInterceptor
from services.platform.auth import AuthInterceptor
from services.platform.config import Settings, settings
from services.platform.contract import ContractInterceptor
from services.platform.deadlines import BudgetInterceptor
from services.platform.interceptors import MalformedRequestGuard
from services.platform.limits import ConcurrencyLimit
from services.platform.logging import configure_logging
from services.platform.metrics import MetricsInterceptor, serve_metrics
from services.platform.tls import server_credentials

Register = Callable[[grpc.Server], None]
log = logging.getLogger("footcds.server")


def server_options(cfg: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", cfg.max_message_bytes),
        ("grpc.max_send_message_length", cfg.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


@dataclass
class RunningServer:
    """A started server with its health servicer, for graceful stop and for tests."""

    name: str
    server: grpc.Server
    health: health.HealthServicer
    port: int
    service_names: Sequence[str]
    _stopped: threading.Event = field(default_factory=threading.Event)

    def stop(self, grace: float | None = None) -> None:
        """Flip health to NOT_SERVING, then stop taking calls and let in-flight ones finish."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        log.info("server stopped", extra={"service": self.name})

    def wait(self) -> None:
        self.server.wait_for_termination()


def trust_interceptors(cfg: Settings, kb_version: str = "") -> list[grpc.ServerInterceptor]:
    """Metrics (outermost: sees refusals too), auth, per-client limits, audit, the call's budget
    (a finite ``time_remaining()`` for every servicer), the rules declared in the protos, then
    malformed bytes turned into INVALID_ARGUMENT - in that order.  ``kb_version`` goes into the
    audit records of calls refused before an answer named it."""
    return [MetricsInterceptor(), AuthInterceptor(cfg), ConcurrencyLimit(cfg),
            AuditInterceptor(cfg, kb_version=kb_version), BudgetInterceptor(cfg), ContractInterceptor(),
            MalformedRequestGuard()]


class WrapOncePerMethod(grpc.ServerInterceptor):
    """Runs ``inner`` interceptors once per method and reuses the handler they build.

    The trust interceptors only wrap a handler's behaviour (their per-call work runs inside
    it, see services.platform.interceptors), so the wrapped handler depends on the method
    alone.  Rebuilding it on every call cost ~40 us of CPU per RPC, ~1/5 of a small RPC's
    server time (docs/performance.md); unknown methods (no handler) are not cached.
    """

    def __init__(self, inner: Sequence[grpc.ServerInterceptor]) -> None:
        self._inner = tuple(inner)
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            handler = self._chain(0, continuation, handler_call_details)
            if handler is not None:
                self._handlers[method] = handler
        return handler

    def _chain(
        self, index: int, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if index == len(self._inner):
            return continuation(details)
        handler: grpc.RpcMethodHandler | None = self._inner[index].intercept_service(
            lambda next_details: self._chain(index + 1, continuation, next_details), details
        )
        return handler


def start_server(
    name: str,
    register: Register,
    service_names: Sequence[str],
    port: int,
    *,
    cfg: Settings | None = None,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    kb_version: str = "",
) -> RunningServer:
    """Build, bind and start a server; returns at once (``kb_version``: see ``trust_interceptors``)."""
    cfg = cfg or settings()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=cfg.server_workers, thread_name_prefix=name),
        options=server_options(cfg),
        interceptors=[WrapOncePerMethod(trust_interceptors(cfg, kb_version)), *interceptors],
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    credentials = server_credentials(cfg)
    address = f"{cfg.bind_host}:{port}"
    bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if bound == 0:
        raise RuntimeError(f"{name}: could not bind {cfg.bind_host}:{port}")
    server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    for service_name in service_names:
        health_servicer.set(service_name, health_pb2.HealthCheckResponse.SERVING)
    log.info("server started", extra={"service": name, "port": bound, "state": "tls" if credentials else "plaintext"})
    return RunningServer(name, server, health_servicer, bound, service_names)


def run_forever(
    name: str,
    register: Register,
    service_names: Sequence[str],
    port: int,
    warm_up: Callable[[], object] | None = None,
    kb_version: str = "",
) -> None:
    """Entry point of ``python -m services.<name>``: serve until SIGTERM or SIGINT.

    ``warm_up`` runs before the port opens (knowledge base, compiled arrays), so health says
    SERVING only when the first real call will be as fast as the rest.  ``kb_version``: the
    knowledge base the service answers from, for its audit records (platform code does not
    load the knowledge base itself).
    """
    cfg = settings()
    configure_logging(name, cfg.log_level)
    if warm_up is not None:
        warm_up()
    # What is alive now (knowledge base, compiled arrays, protobuf descriptors) lives as long as the
    # process: frozen, no full collection walks it again (p13roster: a roster's collections 40-45 ->
    # 14-15 us per athlete in process; docs/performance.md, thirteenth pass).
    gc.freeze()
    running = start_server(name, register, service_names, port, cfg=cfg, kb_version=kb_version)
    serve_metrics(cfg.metrics_port, cfg.bind_host)
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"service": name, "signal": signal.Signals(signum).name})
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not done.wait(timeout=0.5):  # a timed wait keeps the main thread responsive to signals
        pass
    running.stop(cfg.grace_seconds)

"""gRPC stubs for the four domain services, one channel per service per process.

Channels are made lazily and dropped after a fork: a gRPC channel must not cross a fork,
and Celery's prefork pool forks after import.

Each stub method is built once on the plain channel and carries the service identity's
bearer token as call metadata (``AuthorizedChannel``).  Through ``grpc.intercept_channel``
every call built a new multicallable on the underlying channel and ran the interceptor
machinery (``typing`` generic comparisons, call-details tuples): about a third of the
worker's gRPC client CPU per stage call for one constant header (docs/performance.md,
fourth pass).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import grpc
from footcds.v1 import (
    differential_pb2,
    differential_pb2_grpc,
    intake_pb2_grpc,
    treatment_pb2,
    treatment_pb2_grpc,
    workup_pb2,
    workup_pb2_grpc,
)
from google.protobuf.message import Message

from services.platform.auth import service_token
from services.platform.config import settings
from services.platform.server import server_options
from services.platform.tls import dial


@dataclass(frozen=True)
class Stubs:
    intake: intake_pb2_grpc.IntakeServiceStub
    differential: differential_pb2_grpc.DifferentialServiceStub
    workup: workup_pb2_grpc.WorkupServiceStub
    treatment: treatment_pb2_grpc.TreatmentServiceStub


# A service that comes back is dialed again within a quarter second (gRPC's default backoff
# grows to 120 s), so the stage retries, which span ~0.35 s, see it: no manual step.
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 250),
]


Metadata = tuple[tuple[str, str], ...]


class AuthorizedCall:
    """One unary-unary method of a plain channel, every call with the token's metadata."""

    __slots__ = ("_method", "_metadata")

    def __init__(self, method: grpc.UnaryUnaryMultiCallable, metadata: Metadata) -> None:
        self._method = method
        self._metadata = metadata

    def _with(self, metadata: Sequence[tuple[str, str]] | None) -> Metadata:
        return self._metadata if not metadata else (*metadata, *self._metadata)

    def __call__(self, request: Any, timeout: float | None = None, metadata: Any = None, **kwargs: Any) -> Any:
        return self._method(request, timeout=timeout, metadata=self._with(metadata), **kwargs)

    def future(self, request: Any, timeout: float | None = None, metadata: Any = None, **kwargs: Any) -> Any:
        return self._method.future(request, timeout=timeout, metadata=self._with(metadata), **kwargs)

    def with_call(self, request: Any, timeout: float | None = None, metadata: Any = None, **kwargs: Any) -> Any:
        return self._method.with_call(request, timeout=timeout, metadata=self._with(metadata), **kwargs)


class AuthorizedChannel:
    """What a generated stub needs of a channel (``unary_unary``), over a plain channel:
    the stub builds each method once, and each call adds ``authorization: Bearer <token>``.
    The stage services are unary-unary only; any other kind is refused at stub creation."""

    def __init__(self, channel: grpc.Channel, token: str) -> None:
        self.channel = channel
        self._metadata: Metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        **kwargs: Any,
    ) -> AuthorizedCall:
        return AuthorizedCall(
            self.channel.unary_unary(method, request_serializer, response_deserializer, **kwargs), self._metadata
        )

    def close(self) -> None:
        self.channel.close()


def channel(address: str) -> AuthorizedChannel:
    """TLS/mTLS when configured; every call carries the worker's service identity token."""
    cfg = settings()
    plain = dial(address, options=[*server_options(cfg), *RECONNECT_OPTIONS], cfg=cfg)
    return AuthorizedChannel(plain, service_token(cfg))


@dataclass(frozen=True)
class Channels:
    """The four services' channels, apart from the stubs: ``stubs`` (messages) and
    ``serialized_stubs`` (requests as bytes) build their methods on the same channels, so a
    process keeps one connection per service whichever path it runs."""

    intake: AuthorizedChannel
    differential: AuthorizedChannel
    workup: AuthorizedChannel
    treatment: AuthorizedChannel


@cache
def channels() -> Channels:
    """One channel per service per process, shared by ``stubs`` and ``serialized_stubs``."""
    cfg = settings()
    return Channels(
        intake=channel(cfg.intake_addr),
        differential=channel(cfg.differential_addr),
        workup=channel(cfg.workup_addr),
        treatment=channel(cfg.treatment_addr),
    )


@cache
def stubs() -> Stubs:
    c = channels()
    return Stubs(
        intake=intake_pb2_grpc.IntakeServiceStub(c.intake),
        differential=differential_pb2_grpc.DifferentialServiceStub(c.differential),
        workup=workup_pb2_grpc.WorkupServiceStub(c.workup),
        treatment=treatment_pb2_grpc.TreatmentServiceStub(c.treatment),
    )


@dataclass(frozen=True)
class SerializedStubs:
    """The three stage methods whose requests are sent as bytes already serialized
    (``stages.SerializedStages``); answers are parsed as the generated stubs parse them."""

    rank_differential: AuthorizedCall
    recommend_tests: AuthorizedCall
    plan_treatment: AuthorizedCall
    recommend_tests_batch: AuthorizedCall  # a roster chunk's (``screening.screen_chunk``)
    plan_treatment_batch: AuthorizedCall


def _bytes_in(on: AuthorizedChannel, file: Any, service: str, method: str, response: type[Message]) -> AuthorizedCall:
    """``method`` of ``service`` taking serialized requests (no request serializer: gRPC sends
    the bytes as they are), its path read from the proto descriptor as the stubs' is written."""
    descriptor = file.DESCRIPTOR.services_by_name[service].methods_by_name[method]
    path = f"/{descriptor.containing_service.full_name}/{descriptor.name}"
    return on.unary_unary(path, None, response.FromString, _registered_method=True)


@cache
def serialized_stubs() -> SerializedStubs:
    """The stage methods that take requests already serialized: the Celery task and ``direct``
    send ``stages.SerializedStages``' bytes, the differential serialized once instead of once per
    message that carries it (generated stubs only take messages).  One set per process."""
    c = channels()
    return SerializedStubs(
        rank_differential=_bytes_in(c.differential, differential_pb2, "DifferentialService", "RankDifferential",
                                    differential_pb2.RankDifferentialResponse),
        recommend_tests=_bytes_in(c.workup, workup_pb2, "WorkupService", "RecommendTests",
                                  workup_pb2.RecommendTestsResponse),
        plan_treatment=_bytes_in(c.treatment, treatment_pb2, "TreatmentService", "PlanTreatment",
                                 treatment_pb2.PlanTreatmentResponse),
        recommend_tests_batch=_bytes_in(c.workup, workup_pb2, "WorkupService", "RecommendTestsBatch",
                                        workup_pb2.RecommendTestsBatchResponse),
        plan_treatment_batch=_bytes_in(c.treatment, treatment_pb2, "TreatmentService", "PlanTreatmentBatch",
                                       treatment_pb2.PlanTreatmentBatchResponse),
    )


# Threads for a stage call made beside another (workup beside treatment).  Not grpc's
# ``.future()``: each such call started a "channel spin" thread on its channel, whose start
# alone was ~7% of the worker's task samples (docs/performance.md, fourth pass); a blocking
# call on a pooled thread polls its own completion queue and starts nothing.  One thread per
# server worker (direct mode: every in-flight Assess may have a work-up call out); threads
# are started only as calls need them.


@cache
def _background() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings().server_workers, thread_name_prefix="footcds-stage")


def in_background(method: Callable[..., Any], request: Any, timeout: float) -> Future[Any]:
    """``method(request, timeout=timeout)`` on a pooled thread; ``.result()`` returns its
    answer or raises its ``grpc.RpcError``.  A call already running cannot be cancelled:
    it ends by itself within ``timeout``."""
    return _background().submit(method, request, timeout=timeout)


def _after_fork() -> None:
    channels.cache_clear()
    stubs.cache_clear()
    serialized_stubs.cache_clear()
    _background.cache_clear()  # the parent's threads do not exist in the child


os.register_at_fork(after_in_child=_after_fork)

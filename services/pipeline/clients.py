"""gRPC stubs for the four domain services, one channel per service per process.

Channels are made lazily and dropped after a fork: a gRPC channel must not cross a fork,
and Celery's prefork pool forks after import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import grpc
from footcds.v1 import (
    differential_pb2_grpc,
    intake_pb2_grpc,
    treatment_pb2_grpc,
    workup_pb2_grpc,
)

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


def channel(address: str) -> grpc.Channel:
    """TLS/mTLS when configured; every call carries the worker's service identity token."""
    cfg = settings()
    return dial(address, token=service_token(cfg), options=[*server_options(cfg), *RECONNECT_OPTIONS], cfg=cfg)


@cache
def stubs() -> Stubs:
    cfg = settings()
    return Stubs(
        intake=intake_pb2_grpc.IntakeServiceStub(channel(cfg.intake_addr)),
        differential=differential_pb2_grpc.DifferentialServiceStub(channel(cfg.differential_addr)),
        workup=workup_pb2_grpc.WorkupServiceStub(channel(cfg.workup_addr)),
        treatment=treatment_pb2_grpc.TreatmentServiceStub(channel(cfg.treatment_addr)),
    )


os.register_at_fork(after_in_child=stubs.cache_clear)

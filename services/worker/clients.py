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

from services.common.config import settings
from services.common.server import server_options


@dataclass(frozen=True)
class Stubs:
    intake: intake_pb2_grpc.IntakeServiceStub
    differential: differential_pb2_grpc.DifferentialServiceStub
    workup: workup_pb2_grpc.WorkupServiceStub
    treatment: treatment_pb2_grpc.TreatmentServiceStub


def channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address, options=server_options(settings()))


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

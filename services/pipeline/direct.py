"""Assess over direct gRPC calls (``FOOTCDS_ASSESS_MODE=direct``): no queue hop.

``DirectCalls`` is the ``SerializedCalls`` of ``pipeline.assess``: the encounter service calls
intake, then differential, then workup and treatment at the same time (both need only
intake's and differential's answers).  Every call carries the caller's remaining time as
its gRPC timeout, so a service never works past the deadline.
UNAVAILABLE, DEADLINE_EXCEEDED and CANCELLED are retried with the same backoff as the Celery stage
tasks while time remains; any other failure becomes the same ``StageFailed`` (same status,
same field violations) the Celery path produces, so callers cannot tell the modes apart
except by speed.  Celery stays for asynchronous work (team screening).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import grpc
from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.pipeline import assess as pipeline
from services.pipeline.clients import in_background, serialized_stubs, stubs
from services.pipeline.errors import StageFailed, retry_pause
from services.platform.config import settings
from services.platform.deadlines import DeadlineExpired, remaining


def _timeout(stage: str, deadline: float) -> float:
    try:
        return remaining(deadline, cap=settings().stage_timeout_seconds)
    except DeadlineExpired:
        raise StageFailed("DEADLINE_EXCEEDED", f"{stage}: the caller's deadline passed") from None


def call(
    stage: str,
    method: Callable[..., Any],
    request: Any,
    deadline: float,
    pending: Future[Any] | None = None,
) -> Any:
    """One stage's answer; ``pending`` is a call already started (``clients.in_background``)."""
    attempt = 0
    while True:
        try:
            if pending is not None:
                return pending.result()
            return method(request, timeout=_timeout(stage, deadline))
        except grpc.RpcError as error:
            pending = None
            pause = retry_pause(error, attempt, deadline)
            if pause is None:
                raise StageFailed.from_rpc_error(stage, error) from None
            attempt += 1
            time.sleep(pause)


class DirectCalls:
    """``SerializedCalls`` over gRPC from the calling process, every call bounded by ``deadline``."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse:
        response: intake_pb2.NormalizeIntakeResponse = call(
            "intake", stubs().intake.NormalizeIntake, request, self.deadline
        )
        return response

    def differential(self, request: bytes) -> differential_pb2.RankDifferentialResponse:
        response: differential_pb2.RankDifferentialResponse = call(
            "differential", serialized_stubs().rank_differential, request, self.deadline
        )
        return response

    def workup_and_treatment(
        self, workup_request: bytes, treatment_request: bytes
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]:
        s, deadline = serialized_stubs(), self.deadline
        # The work-up on a pooled thread, the treatment here (clients.in_background says why).
        workup_pending = in_background(s.recommend_tests, workup_request, _timeout("workup", deadline))
        try:
            plan = call("treatment", s.plan_treatment, treatment_request, deadline)
            workup = call("workup", s.recommend_tests, workup_request, deadline, workup_pending)
        finally:
            workup_pending.cancel()  # not started yet: never sent
        return workup, plan


def assess(request: encounter_pb2.AssessRequest, deadline: float) -> bytes:
    """The serialized Assessment: the four services in order (workup and treatment together);
    raises ``StageFailed``."""
    return pipeline.assess_serialized(request, DirectCalls(deadline))

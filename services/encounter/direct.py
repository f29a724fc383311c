"""Assess over direct gRPC calls (``FOOTCDS_ASSESS_MODE=direct``): no queue hop.

The encounter service calls intake, then differential, then workup and treatment at the
same time (both need only intake's and differential's answers).  Every call carries the
caller's remaining time as its gRPC timeout, so a service never works past the deadline.
UNAVAILABLE and DEADLINE_EXCEEDED are retried with the same backoff as the Celery stage
tasks while time remains; any other failure becomes the same ``StageFailed`` (same status,
same field violations) the Celery path produces, so callers cannot tell the modes apart
except by speed.  Celery stays for asynchronous work (team screening).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from footcds.v1 import encounter_pb2

from services.common.config import settings
from services.common.deadlines import DeadlineExpired, remaining
from services.encounter import stages
from services.worker.clients import stubs
from services.worker.errors import StageFailed, retry_pause


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
    pending: grpc.Future | None = None,
) -> Any:
    """One stage's answer; ``pending`` is a call already started with ``method.future``."""
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


def assess(request: encounter_pb2.AssessRequest, deadline: float) -> encounter_pb2.Assessment:
    """The four services in order (workup and treatment together); raises ``StageFailed``."""
    s = stubs()
    intake = call("intake", s.intake.NormalizeIntake, stages.intake_request(request), deadline)
    ranked = call(
        "differential", s.differential.RankDifferential, stages.differential_request(intake), deadline
    )
    workup_request = stages.workup_request(intake, ranked.differential)
    treatment_request = stages.treatment_request(intake, ranked.differential)
    workup_pending = s.workup.RecommendTests.future(workup_request, timeout=_timeout("workup", deadline))
    treatment_pending = s.treatment.PlanTreatment.future(
        treatment_request, timeout=_timeout("treatment", deadline)
    )
    try:
        workup = call("workup", s.workup.RecommendTests, workup_request, deadline, workup_pending)
        plan = call("treatment", s.treatment.PlanTreatment, treatment_request, deadline, treatment_pending)
    finally:
        workup_pending.cancel()
        treatment_pending.cancel()
    return stages.assemble(intake, ranked, workup, plan)

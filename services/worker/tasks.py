"""The Assess stages as Celery tasks: each calls one service over gRPC, nothing more.

A task's input and output are a ``state`` dict of serialized protobuf messages plus the
absolute deadline; each stage adds its response. Clinical logic lives in the services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from celery import Task
from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
)

from services.common.config import settings
from services.common.deadlines import DeadlineExpired, remaining
from services.encounter import stages
from services.worker.app import app
from services.worker.clients import stubs
from services.worker.errors import StageFailed, retry_pause

log = logging.getLogger("footcds.worker")
State = dict[str, Any]


class StageTask(Task):
    """Defaults for every stage task: late ack, redelivery on worker loss, gRPC retries."""

    acks_late = True
    reject_on_worker_lost = True
    max_retries = settings().task_max_retries  # retry_pause() enforces it; Celery checks it too

    def call_cap(self) -> float:
        """The longest one gRPC call of this task may take (the deadline may cut it shorter)."""
        return settings().stage_timeout_seconds

    def call(self, stage: str, method: Callable[..., Any], request: Any, deadline: float) -> Any:
        try:
            timeout = remaining(deadline, cap=self.call_cap())
            return method(request, timeout=timeout)
        except DeadlineExpired:
            raise StageFailed("DEADLINE_EXCEEDED", f"{stage}: the caller's deadline passed") from None
        except grpc.RpcError as error:
            failure = StageFailed.from_rpc_error(stage, error)
            pause = retry_pause(error, self.request.retries, deadline)
            if pause is not None:
                log.warning(
                    "stage retry",
                    extra={"task": self.name, "code": failure.code, "retry_in_s": pause,
                           "attempt": self.request.retries + 1},
                )
                raise self.retry(countdown=pause, exc=failure) from None
            raise failure from None


def _intake(state: State) -> intake_pb2.NormalizeIntakeResponse:
    return intake_pb2.NormalizeIntakeResponse.FromString(state["intake"])


def _ranked(state: State) -> differential_pb2.RankDifferentialResponse:
    return differential_pb2.RankDifferentialResponse.FromString(state["differential"])


def run_intake(task: StageTask, state: State) -> State:
    request = stages.intake_request(encounter_pb2.AssessRequest.FromString(state["request"]))
    response = task.call("intake", stubs().intake.NormalizeIntake, request, state["deadline"])
    return {**state, "intake": response.SerializeToString()}


def run_differential(task: StageTask, state: State) -> State:
    request = stages.differential_request(_intake(state))
    response = task.call("differential", stubs().differential.RankDifferential, request, state["deadline"])
    return {**state, "differential": response.SerializeToString()}


def run_workup(task: StageTask, state: State) -> State:
    request = stages.workup_request(_intake(state), _ranked(state).differential)
    response = task.call("workup", stubs().workup.RecommendTests, request, state["deadline"])
    return {**state, "workup": response.SerializeToString()}


def run_treatment(task: StageTask, state: State) -> State:
    request = stages.treatment_request(_intake(state), _ranked(state).differential)
    response = task.call("treatment", stubs().treatment.PlanTreatment, request, state["deadline"])
    return {**state, "treatment": response.SerializeToString()}


@app.task(bind=True, base=StageTask, name="footcds.assess.intake")
def intake_stage(self: StageTask, state: State) -> State:
    return run_intake(self, state)


@app.task(bind=True, base=StageTask, name="footcds.assess.differential")
def differential_stage(self: StageTask, state: State) -> State:
    return run_differential(self, state)


@app.task(bind=True, base=StageTask, name="footcds.assess.workup")
def workup_stage(self: StageTask, state: State) -> State:
    return run_workup(self, state)


@app.task(bind=True, base=StageTask, name="footcds.assess.treatment")
def treatment_stage(self: StageTask, state: State) -> State:
    return run_treatment(self, state)


def run_workup_and_treatment(task: StageTask, state: State) -> State:
    """Both last stages at once: each needs only intake's and differential's answers, so
    the task waits for the slower call instead of both in turn (docs/performance.md)."""
    intake, differential = _intake(state), _ranked(state).differential
    workup_request = stages.workup_request(intake, differential)
    treatment_request = stages.treatment_request(intake, differential)
    # call() returns the started future here; its errors surface (and retry) at .result() below.
    pending = task.call("workup", stubs().workup.RecommendTests.future, workup_request, state["deadline"])
    try:
        plan = task.call("treatment", stubs().treatment.PlanTreatment, treatment_request, state["deadline"])
        workup = task.call("workup", lambda _request, timeout: pending.result(), workup_request, state["deadline"])
    finally:
        pending.cancel()
    return {**state, "workup": workup.SerializeToString(), "treatment": plan.SerializeToString()}


@app.task(bind=True, base=StageTask, name="footcds.assess.pipeline")
def pipeline_stage(self: StageTask, state: State) -> State:
    """All four stages in one task: one queue hop instead of four (measured in bench/)."""
    return run_workup_and_treatment(self, run_differential(self, run_intake(self, state)))

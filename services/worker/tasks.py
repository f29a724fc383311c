"""Assess as one Celery task: ``pipeline.assess`` over ``CeleryCalls`` (gRPC from the worker).

The task's input is a ``state`` dict holding the serialized ``AssessRequest``, the absolute
deadline and the key of the reply list the encounter waits on; the serialized
``Assessment`` (or the failure) goes there (``services.worker.replies``), not to Celery's
result backend.  Clinical logic lives in the services, the stage order in
``services.pipeline.assess``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc
from celery import Task
from celery.exceptions import Retry
from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.pipeline.assess import assess_serialized
from services.pipeline.clients import in_background, serialized_stubs, stubs
from services.pipeline.errors import StageFailed, retry_pause
from services.platform.config import settings
from services.platform.deadlines import DeadlineExpired, remaining
from services.worker import replies
from services.worker.app import app

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


class Running:
    """How many Assess tasks this worker process is running now (a threads pool runs several
    at once; a prefork child one): ``CeleryCalls`` calls work-up beside treatment only while
    few are, because then a second thread shortens the answer; when many are, the others'
    stage calls already keep the services busy and the hand-off only costs CPU (measured:
    docs/performance.md, thirteenth pass)."""

    __slots__ = ("_lock", "now")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.now -= 1


RUNNING = Running()


class CeleryCalls:
    """``SerializedCalls`` from inside a task: a retryable failure retries the whole task."""

    def __init__(self, task: StageTask, deadline: float) -> None:
        self.task = task
        self.deadline = deadline

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse:
        response: intake_pb2.NormalizeIntakeResponse = self.task.call(
            "intake", stubs().intake.NormalizeIntake, request, self.deadline
        )
        return response

    def differential(self, request: bytes) -> differential_pb2.RankDifferentialResponse:
        response: differential_pb2.RankDifferentialResponse = self.task.call(
            "differential", serialized_stubs().rank_differential, request, self.deadline
        )
        return response

    def workup_and_treatment(
        self, workup_request: bytes, treatment_request: bytes
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]:
        """Both last stages at once: each needs only intake's and differential's answers, so
        the task waits for the slower call instead of both in turn (docs/performance.md) -
        while few Assess tasks run in this process (``Running``); busier, one after the other."""
        task, deadline, s = self.task, self.deadline, serialized_stubs()
        if RUNNING.now > settings().assess_parallel_max_running:
            # Busy: one after the other on this thread, treatment first (as below, its failure
            # is the one reported when both fail); the same requests, the same answers.
            plan = task.call("treatment", s.plan_treatment, treatment_request, deadline)
            workup = task.call("workup", s.recommend_tests, workup_request, deadline)
            return workup, plan
        # call() returns the started call here; its errors surface (and retry) at .result() below.
        pending = task.call(
            "workup", lambda request, timeout: in_background(s.recommend_tests, request, timeout),
            workup_request, deadline,
        )
        try:
            plan = task.call("treatment", s.plan_treatment, treatment_request, deadline)
            workup = task.call("workup", lambda _request, timeout: pending.result(), workup_request, deadline)
        finally:
            pending.cancel()  # not started yet: never sent
        return workup, plan


# ignore_result: the answer travels on the reply list; a message from a caller that asked for
# a stored result (``ignore_result`` false in its headers, no "reply" in its state) still gets one.
@app.task(bind=True, base=StageTask, name="footcds.assess.pipeline", ignore_result=True)
def pipeline_stage(self: StageTask, state: State) -> bytes | None:
    """All four stages in one task: one queue hop instead of four (measured in bench/)."""
    deadline: float = state["deadline"]
    key: str | None = state.get("reply")
    try:
        request = encounter_pb2.AssessRequest.FromString(state["request"])
        with RUNNING:
            answer = assess_serialized(request, CeleryCalls(self, deadline))
    except Retry:
        raise  # the same task runs again and answers then
    except StageFailed as failure:
        if key is not None:
            replies.send_failure(key, failure, deadline)
        raise
    except Exception:
        if key is not None:  # the caller hears at once, not at its deadline
            replies.send_failure(key, StageFailed("INTERNAL", "the assessment failed"), deadline)
        raise
    if key is None:
        return answer
    replies.send_answer(key, answer, deadline)
    return None

"""EncounterService over gRPC: Assess runs the four stages through Celery over Redis.

``FOOTCDS_ASSESS_MODE`` picks the runner of ``services.pipeline.assess``: one Celery task
(``pipeline``) or ``direct`` gRPC calls from here (services.pipeline.direct);
docs/performance.md has the measurements behind the default and why the chain was dropped.
"""

from __future__ import annotations

import logging
import time
from typing import NoReturn

import grpc
from celery.utils import uuid
from footcds.v1 import encounter_pb2, encounter_pb2_grpc
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from services.encounter.handlers import assess_response_from_bytes
from services.encounter.screening_servicer import ScreeningServicerMixin
from services.pipeline import direct
from services.pipeline.errors import StageFailed
from services.platform.config import settings
from services.platform.deadlines import DeadlineExpired, call_budget
from services.platform.errors import bad_request_status, translate_errors
from services.worker import replies, tasks

SERVICE_NAME = encounter_pb2.DESCRIPTOR.services_by_name["EncounterService"].full_name
log = logging.getLogger("footcds.encounter")
QUEUE_ERRORS = (OperationalError, RedisConnectionError, RedisTimeout, ConnectionError)


def start_assessment(request: encounter_pb2.AssessRequest, deadline: float) -> str:
    """Queue the pipeline task; returns the key its answer will be pushed on
    (``services.worker.replies``: a blocking pop instead of Celery's result backend)."""
    task_id = uuid()
    key = replies.reply_key(task_id)
    state = {"request": request.SerializeToString(), "deadline": deadline, "reply": key}
    expires = max(deadline - time.time(), 0.001)
    tasks.pipeline_stage.apply_async((state,), task_id=task_id, expires=expires)
    return key


class EncounterServicer(ScreeningServicerMixin, encounter_pb2_grpc.EncounterServiceServicer):
    @translate_errors
    def Assess(
        self, request: encounter_pb2.AssessRequest, context: grpc.ServicerContext
    ) -> encounter_pb2.AssessResponse:
        started = time.perf_counter()
        deadline = time.time() + call_budget(context)  # finite even without a caller's deadline
        if settings().assess_mode == "direct":
            try:
                answer = direct.assess(request, deadline)
                return logged(assess_response_from_bytes(answer, request.include_fhir_bundle), started)
            except StageFailed as failure:
                abort_failed(context, failure)
        try:
            key = start_assessment(request, deadline)
        except QUEUE_ERRORS:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the task queue (Redis) is unreachable")
        try:
            answer = replies.wait(key, deadline)
        except DeadlineExpired:
            context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "no worker completed the assessment within the deadline",
            )
        except StageFailed as failure:
            abort_failed(context, failure)
        except QUEUE_ERRORS:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the result store (Redis) is unreachable")
        return logged(assess_response_from_bytes(answer, request.include_fhir_bundle), started)


def abort_failed(context: grpc.ServicerContext, failure: StageFailed) -> NoReturn:
    """A stage's failure as the caller's status, with the same field violations."""
    if failure.violations:
        context.abort_with_status(bad_request_status(failure.violations, failure.message))
    context.abort(failure.status_code(), failure.message)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def logged(response: encounter_pb2.AssessResponse, started: float) -> encounter_pb2.AssessResponse:
    """The response, after one log line of safe fields (no patient data)."""
    assessment = response.assessment
    log.info(
        "assessed",
        extra={
            "rpc": "Assess",
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "triage": assessment.triage.level,
            "kb_version": assessment.kb_version,
        },
    )
    return response


def register(server: grpc.Server) -> None:
    from services.encounter import audit_servicer  # the audit trail is read through the front door

    encounter_pb2_grpc.add_EncounterServiceServicer_to_server(EncounterServicer(), server)
    audit_servicer.register(server)

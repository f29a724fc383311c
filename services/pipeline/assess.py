"""The Assess stage sequence, once: intake, differential, then work-up and treatment.

The runners differ only in how a stage is reached (a Celery task's gRPC calls, the
encounter's own gRPC calls, or the handlers in-process), so each implements ``StageCalls``
and this module decides the order.  Work-up and treatment are one call because both need
only intake's and differential's answers: a runner that can run them concurrently does.

The runners that send bytes over gRPC (the Celery task, ``direct``) take the stage requests
and the answer serialized (``SerializedCalls``, ``assess_serialized``): the differential is
serialized once and spliced into the work-up and treatment requests and the Assessment
(``stages.SerializedStages``); the in-process runner takes messages (``assess``).  Both go through
``_run``, so the order is still written once.
"""

from __future__ import annotations

from typing import Any, Protocol

from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.pipeline import stages
from services.pipeline.stages import SerializedStages


class StageCalls(Protocol):
    """How one runner reaches the four services; errors are the runner's to raise."""

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse: ...

    def differential(
        self, request: differential_pb2.RankDifferentialRequest
    ) -> differential_pb2.RankDifferentialResponse: ...

    def workup_and_treatment(
        self, workup: workup_pb2.RecommendTestsRequest, treatment: treatment_pb2.PlanTreatmentRequest
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]: ...


class SerializedCalls(Protocol):
    """``StageCalls`` whose differential, work-up and treatment requests are their bytes."""

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse: ...

    def differential(self, request: bytes) -> differential_pb2.RankDifferentialResponse: ...

    def workup_and_treatment(
        self, workup: bytes, treatment: bytes
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]: ...


def _run(request: encounter_pb2.AssessRequest, calls: Any, build: Any) -> Any:
    """The order; ``build`` makes the requests and the answer (``stages`` or ``SerializedStages``)."""
    intake = calls.intake(stages.intake_request(request))
    ranked = calls.differential(build.differential_request(intake))
    workup, plan = calls.workup_and_treatment(
        build.workup_request(intake, ranked.differential),
        build.treatment_request(intake, ranked.differential),
    )
    return build.assemble(intake, ranked, workup, plan)


def assess(request: encounter_pb2.AssessRequest, calls: StageCalls) -> encounter_pb2.Assessment:
    """The whole Assessment of one encounter, whatever runs the stages."""
    assessment: encounter_pb2.Assessment = _run(request, calls, stages)
    return assessment


def assess_serialized(request: encounter_pb2.AssessRequest, calls: SerializedCalls) -> bytes:
    """``assess(request, ...).SerializeToString()`` over calls that send bytes: the same bytes."""
    answer: bytes = _run(request, calls, SerializedStages())
    return answer

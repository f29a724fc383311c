"""The Assess stage sequence, once: intake, differential, then work-up and treatment.

The runners differ only in how a stage is reached (a Celery task's gRPC calls, the
encounter's own gRPC calls, or the handlers in-process), so each implements ``StageCalls``
and this module decides the order.  Work-up and treatment are one call because both need
only intake's and differential's answers: a runner that can run them concurrently does.
"""

from __future__ import annotations

from typing import Protocol

from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.pipeline import stages


class StageCalls(Protocol):
    """How one runner reaches the four services; errors are the runner's to raise."""

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse: ...

    def differential(
        self, request: differential_pb2.RankDifferentialRequest
    ) -> differential_pb2.RankDifferentialResponse: ...

    def workup_and_treatment(
        self, workup: workup_pb2.RecommendTestsRequest, treatment: treatment_pb2.PlanTreatmentRequest
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]: ...


def assess(request: encounter_pb2.AssessRequest, calls: StageCalls) -> encounter_pb2.Assessment:
    """The whole Assessment of one encounter, whatever runs the stages."""
    intake = calls.intake(stages.intake_request(request))
    ranked = calls.differential(stages.differential_request(intake))
    workup, plan = calls.workup_and_treatment(
        stages.workup_request(intake, ranked.differential),
        stages.treatment_request(intake, ranked.differential),
    )
    return stages.assemble(intake, ranked, workup, plan)

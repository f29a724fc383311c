"""The Assess pipeline in-process: the same stage functions the services run, no servers.

``footcds assess --local`` and the screening ``--local`` mode use it; a test checks it
agrees with the distributed path.
"""

from __future__ import annotations

from footcds.v1 import (
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)

from services.differential.handlers import rank_differential
from services.intake.handlers import normalize_intake
from services.pipeline.assess import assess
from services.treatment.handlers import plan_treatment
from services.workup.handlers import recommend_tests


class LocalCalls:
    """``StageCalls`` as plain function calls, one after the other."""

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse:
        return normalize_intake(request)

    def differential(
        self, request: differential_pb2.RankDifferentialRequest
    ) -> differential_pb2.RankDifferentialResponse:
        return rank_differential(request)

    def workup_and_treatment(
        self, workup: workup_pb2.RecommendTestsRequest, treatment: treatment_pb2.PlanTreatmentRequest
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]:
        return recommend_tests(workup), plan_treatment(treatment)


def assess_local(request: encounter_pb2.AssessRequest) -> encounter_pb2.Assessment:
    return assess(request, LocalCalls())

"""The pipeline's stage messages, shared by every path that runs the four services.

Each function builds the next service's request from what earlier stages returned, so the
Celery stages, the direct path, ``--local`` and the team-screening chunks cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from footcds.v1 import (
    common_pb2,
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)


def intake_request(
    request: encounter_pb2.AssessRequest | encounter_pb2.RosterEntry,
) -> intake_pb2.NormalizeIntakeRequest:
    """One encounter, or one athlete of a roster: both carry patient, evidence and answers."""
    return intake_pb2.NormalizeIntakeRequest(**intake_fields(request))


def intake_fields(request: encounter_pb2.AssessRequest | encounter_pb2.RosterEntry) -> dict[str, Any]:
    """``intake_request``'s fields, for ``batch.items.add(**...)``: a batch item filled in
    place, where building the request and appending it copied every field twice."""
    return {"patient": request.patient, "evidence": request.evidence, "answers": request.answers}


def differential_request(
    intake: intake_pb2.NormalizeIntakeResponse,
) -> differential_pb2.RankDifferentialRequest:
    return differential_pb2.RankDifferentialRequest(**differential_fields(intake))


def differential_fields(intake: intake_pb2.NormalizeIntakeResponse) -> dict[str, Any]:
    return {"patient": intake.patient, "evidence": intake.evidence}


def workup_request(
    intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
) -> workup_pb2.RecommendTestsRequest:
    return workup_pb2.RecommendTestsRequest(**workup_fields(intake, differential))


def workup_fields(
    intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
) -> dict[str, Any]:
    return {"patient": intake.patient, "evidence": intake.evidence, "differential": differential}


def treatment_request(
    intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
) -> treatment_pb2.PlanTreatmentRequest:
    return treatment_pb2.PlanTreatmentRequest(**treatment_fields(intake, differential))


def treatment_fields(
    intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
) -> dict[str, Any]:
    return {"patient": intake.patient, "differential": differential}


def assemble(
    intake: intake_pb2.NormalizeIntakeResponse,
    ranked: differential_pb2.RankDifferentialResponse,
    workup: workup_pb2.RecommendTestsResponse,
    plan: treatment_pb2.PlanTreatmentResponse,
) -> encounter_pb2.Assessment:
    """The whole answer, triage (with its red flags) first."""
    return encounter_pb2.Assessment(
        triage=ranked.differential.triage,
        differential=ranked.differential,
        tests=workup.tests,
        plan=plan.plan,
        evidence=intake.evidence,
        patient=intake.patient,
        workup_note=workup.note,
        kb_version=ranked.kb_version,
        disclaimer=ranked.disclaimer,
    )

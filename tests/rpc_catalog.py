"""Every FootCDS RPC with where it is served and one valid request for it.

Shared by the no-deadline tests, the conformance suite and the fuzzer, so a new RPC is
covered by all three as soon as it has an entry here (a test fails while one is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from footcds.v1 import (
    audit_pb2,
    common_pb2,
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)
from google.protobuf import descriptor
from google.protobuf.message import Message

HOSTS = {"IntakeService": "intake", "DifferentialService": "differential", "WorkupService": "workup",
         "TreatmentService": "treatment", "EncounterService": "encounter", "AuditService": "encounter"}
MODULES = (intake_pb2, differential_pb2, workup_pb2, treatment_pb2, encounter_pb2, audit_pb2)


@dataclass(frozen=True)
class Rpc:
    server: str
    service: str  # full name, e.g. footcds.v1.EncounterService
    name: str  # e.g. Assess
    request: descriptor.Descriptor
    streaming: bool

    @property
    def method(self) -> str:
        return f"/{self.service}/{self.name}"

    def __str__(self) -> str:
        return self.name


def all_rpcs() -> list[Rpc]:
    out = []
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                out.append(Rpc(HOSTS[service.name], service.full_name, method.name, method.input_type,
                               method.server_streaming))
    return out


def _valid() -> dict[str, Callable[[str], Message]]:
    """RPC name -> a valid request (screening RPCs take the id of a finished screening)."""
    from services.differential.handlers import rank_differential
    from services.intake.handlers import normalize_intake
    from services.pipeline import stages
    from tests.conftest import example_request

    assess = example_request("tight_laces_runner")
    intake_req = stages.intake_request(assess)
    intake = normalize_intake(intake_req)
    rank_req = stages.differential_request(intake)
    differential = rank_differential(rank_req).differential
    workup_req = stages.workup_request(intake, differential)
    plan_req = stages.treatment_request(intake, differential)
    athlete = encounter_pb2.RosterEntry(athlete_ref="A-1", row_number=1, patient=assess.patient,
                                        evidence=assess.evidence, answers=assess.answers)
    return {
        "Assess": lambda _: assess,
        "NormalizeIntake": lambda _: intake_req,
        "NormalizeIntakeBatch": lambda _: intake_pb2.NormalizeIntakeBatchRequest(items=[intake_req]),
        "GetIntakeForm": lambda _: intake_pb2.GetIntakeFormRequest(audience=intake_pb2.FORM_AUDIENCE_PATIENT),
        "RankDifferential": lambda _: rank_req,
        "RankDifferentialBatch": lambda _: differential_pb2.RankDifferentialBatchRequest(items=[rank_req]),
        "NextQuestion": lambda _: differential_pb2.NextQuestionRequest(patient=rank_req.patient,
                                                                      evidence=rank_req.evidence),
        "RecommendTests": lambda _: workup_req,
        "RecommendTestsBatch": lambda _: workup_pb2.RecommendTestsBatchRequest(items=[workup_req]),
        "SubmitTestResults": lambda _: workup_pb2.SubmitTestResultsRequest(
            patient=rank_req.patient, evidence=rank_req.evidence,
            results=[common_pb2.TestResult(test_id="ankle_brachial_index", value=1.1)]),
        "PlanTreatment": lambda _: plan_req,
        "PlanTreatmentBatch": lambda _: treatment_pb2.PlanTreatmentBatchRequest(items=[plan_req]),
        "SubmitScreening": lambda key: encounter_pb2.SubmitScreeningRequest(
            idempotency_key=key, athletes=[athlete], team_label="catalog"),
        "WatchScreening": lambda sid: encounter_pb2.WatchScreeningRequest(screening_id=sid),
        "GetScreeningResults": lambda sid: encounter_pb2.GetScreeningResultsRequest(screening_id=sid),
        "GetScreeningSummary": lambda sid: encounter_pb2.GetScreeningSummaryRequest(screening_id=sid),
        "ListAuditRecords": lambda _: audit_pb2.ListAuditRecordsRequest(limit=5),
    }


VALID = _valid()
M = TypeVar("M", bound=Message)


def valid(name: str, kind: type[M], argument: str = "") -> M:
    """``VALID[name](argument)`` as its request type, for a test that edits the request's fields."""
    request = VALID[name](argument)
    assert isinstance(request, kind), f"VALID[{name!r}] builds a {type(request).__name__}, not a {kind.__name__}"
    return request
NEEDS_SCREENING = {"WatchScreening", "GetScreeningResults", "GetScreeningSummary"}

"""TreatmentService over gRPC: translate messages, call ``domain``."""

from __future__ import annotations

from functools import lru_cache

import grpc
from footcds.v1 import common_pb2, differential_pb2, treatment_pb2, treatment_pb2_grpc

from services.common import contract, convert
from services.common.errors import InvalidInput, Violation, translate_errors
from services.intake.domain import validate_patient
from services.knowledge.loader import knowledge_base
from services.treatment import domain

SERVICE_NAME = treatment_pb2.DESCRIPTOR.services_by_name["TreatmentService"].full_name
PLAN_CACHE_SIZE = 4096


@lru_cache(maxsize=PLAN_CACHE_SIZE)
def encoded_plan(inputs: domain.PlanInputs) -> bytes:
    """The serialized plan for its complete inputs (``domain.PlanInputs``).

    A plan depends on nothing else, and a team of thousands shares a few hundred distinct
    ones, so they are kept (bounded, least recently used first out) for the process's
    knowledge base, which is loaded once.
    """
    return convert.plan_to_pb(domain.plan_from_inputs(knowledge_base(), inputs)).SerializeToString()


def _plan_bytes(request: treatment_pb2.PlanTreatmentRequest, prefix: str = "") -> bytes:
    """The serialized ``TreatmentPlan`` for a request, validated, reused when seen before."""
    kb = knowledge_base()
    patient = convert.patient_from_pb(request.patient)
    problems = validate_patient(patient, f"{prefix}patient")
    conditions = request.differential.conditions
    if not conditions:
        problems.append(Violation(f"{prefix}differential.conditions", "a ranked differential is required"))
    problems += [
        Violation(f"{prefix}differential.conditions[{i}].condition_id", f"unknown condition {c.condition_id!r}")
        for i, c in enumerate(conditions)
        if c.condition_id not in kb.conditions
    ]
    if problems:
        raise InvalidInput(problems)
    return encoded_plan(domain.plan_inputs(kb, patient, convert.lean_differential_from_pb(request.differential)))


def plan_treatment(request: treatment_pb2.PlanTreatmentRequest) -> treatment_pb2.PlanTreatmentResponse:
    kb = knowledge_base()
    response = treatment_pb2.PlanTreatmentResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    response.plan.MergeFromString(_plan_bytes(request))
    return response


def plan_treatment_batch(
    request: treatment_pb2.PlanTreatmentBatchRequest,
) -> treatment_pb2.PlanTreatmentBatchResponse:
    kb = knowledge_base()
    response = treatment_pb2.PlanTreatmentBatchResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    for index, item in enumerate(request.items):
        result = response.results.add(index=index)  # filled in place: no message copies
        try:
            contract.check(item, f"items[{index}].")  # the batch's items are checked one by one
            result.plan.MergeFromString(_plan_bytes(item, f"items[{index}]."))
        except InvalidInput as exc:
            result.error.CopyFrom(convert.batch_error(index, exc.violations))
    return response


class TreatmentServicer(treatment_pb2_grpc.TreatmentServiceServicer):
    @translate_errors
    def PlanTreatment(
        self, request: treatment_pb2.PlanTreatmentRequest, context: grpc.ServicerContext
    ) -> treatment_pb2.PlanTreatmentResponse:
        return plan_treatment(request)

    @translate_errors
    def PlanTreatmentBatch(
        self, request: treatment_pb2.PlanTreatmentBatchRequest, context: grpc.ServicerContext
    ) -> treatment_pb2.PlanTreatmentBatchResponse:
        return plan_treatment_batch(request)


def register(server: grpc.Server) -> None:
    treatment_pb2_grpc.add_TreatmentServiceServicer_to_server(TreatmentServicer(), server)


def warm_up() -> None:
    """Load the knowledge base and plan one case, before the port opens."""
    from services.differential.servicer import rank_differential

    evidence = [common_pb2.Evidence(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)]
    ranked = rank_differential(differential_pb2.RankDifferentialRequest(evidence=evidence))
    plan_treatment(treatment_pb2.PlanTreatmentRequest(differential=ranked.differential))

"""TreatmentService over gRPC: the edge only (status, errors); ``handlers`` does the work."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, differential_pb2, treatment_pb2, treatment_pb2_grpc

from services.platform.errors import translate_errors
from services.treatment.handlers import plan_treatment, plan_treatment_batch_bytes
from services.wire.batch import bytes_responses

SERVICE_NAME = treatment_pb2.DESCRIPTOR.services_by_name["TreatmentService"].full_name


class TreatmentServicer(treatment_pb2_grpc.TreatmentServiceServicer):
    @translate_errors
    def PlanTreatment(
        self, request: treatment_pb2.PlanTreatmentRequest, context: grpc.ServicerContext
    ) -> treatment_pb2.PlanTreatmentResponse:
        return plan_treatment(request)

    @translate_errors
    def PlanTreatmentBatch(  # type: ignore[override]  # bytes, sent as they are (register)
        self, request: treatment_pb2.PlanTreatmentBatchRequest, context: grpc.ServicerContext
    ) -> bytes:
        """The response serialized (sent as it is: ``register``)."""
        return plan_treatment_batch_bytes(request)


def register(server: grpc.Server) -> None:
    bytes_responses(treatment_pb2_grpc.add_TreatmentServiceServicer_to_server, TreatmentServicer(), server,
                    ["PlanTreatmentBatch"])


def warm_up() -> None:
    """Load the knowledge base and plan one case, before the port opens."""
    from services.differential.handlers import rank_differential

    evidence = [common_pb2.Evidence(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)]
    ranked = rank_differential(differential_pb2.RankDifferentialRequest(evidence=evidence))
    plan_treatment(treatment_pb2.PlanTreatmentRequest(differential=ranked.differential))

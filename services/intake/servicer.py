"""IntakeService over gRPC: the edge only (status, errors); ``handlers`` does the work."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, intake_pb2, intake_pb2_grpc

from services.intake.handlers import intake_form, normalize_intake, normalize_intake_batch
from services.platform.errors import translate_errors

SERVICE_NAME = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    @translate_errors
    def NormalizeIntake(
        self, request: intake_pb2.NormalizeIntakeRequest, context: grpc.ServicerContext
    ) -> intake_pb2.NormalizeIntakeResponse:
        return normalize_intake(request)

    @translate_errors
    def NormalizeIntakeBatch(
        self, request: intake_pb2.NormalizeIntakeBatchRequest, context: grpc.ServicerContext
    ) -> intake_pb2.NormalizeIntakeBatchResponse:
        return normalize_intake_batch(request)

    @translate_errors
    def GetIntakeForm(
        self, request: intake_pb2.GetIntakeFormRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetIntakeFormResponse:
        return intake_form(request.audience)


def register(server: grpc.Server) -> None:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(), server)


def warm_up() -> None:
    """Load the knowledge base and answer one intake, before the port opens."""
    normalize_intake(
        intake_pb2.NormalizeIntakeRequest(
            evidence=[common_pb2.Evidence(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)]
        )
    )

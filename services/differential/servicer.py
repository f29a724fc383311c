"""DifferentialService over gRPC: the edge only (status, errors); ``handlers`` does the work."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, differential_pb2, differential_pb2_grpc

from services.differential.handlers import next_question, rank_differential, rank_differential_batch
from services.platform.errors import translate_errors

SERVICE_NAME = differential_pb2.DESCRIPTOR.services_by_name["DifferentialService"].full_name


class DifferentialServicer(differential_pb2_grpc.DifferentialServiceServicer):
    @translate_errors
    def RankDifferential(
        self, request: differential_pb2.RankDifferentialRequest, context: grpc.ServicerContext
    ) -> differential_pb2.RankDifferentialResponse:
        return rank_differential(request)

    @translate_errors
    def RankDifferentialBatch(
        self, request: differential_pb2.RankDifferentialBatchRequest, context: grpc.ServicerContext
    ) -> differential_pb2.RankDifferentialBatchResponse:
        return rank_differential_batch(request)

    @translate_errors
    def NextQuestion(
        self, request: differential_pb2.NextQuestionRequest, context: grpc.ServicerContext
    ) -> differential_pb2.NextQuestionResponse:
        return next_question(request)


def register(server: grpc.Server) -> None:
    differential_pb2_grpc.add_DifferentialServiceServicer_to_server(DifferentialServicer(), server)


def warm_up() -> None:
    """Load the knowledge base and compile the ranking arrays, before the port opens."""
    rank_differential(
        differential_pb2.RankDifferentialRequest(
            evidence=[common_pb2.Evidence(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)]
        )
    )

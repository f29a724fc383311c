"""DifferentialService over gRPC: the edge only (status, errors); ``handlers`` does the work."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, differential_pb2, differential_pb2_grpc

from services.differential.handlers import next_question, rank_differential, rank_differential_batch_bytes
from services.platform.errors import translate_errors
from services.wire.batch import bytes_responses

SERVICE_NAME = differential_pb2.DESCRIPTOR.services_by_name["DifferentialService"].full_name


class DifferentialServicer(differential_pb2_grpc.DifferentialServiceServicer):
    @translate_errors
    def RankDifferential(
        self, request: differential_pb2.RankDifferentialRequest, context: grpc.ServicerContext
    ) -> differential_pb2.RankDifferentialResponse:
        return rank_differential(request)

    @translate_errors
    def RankDifferentialBatch(  # type: ignore[override]  # bytes, sent as they are (register)
        self, request: differential_pb2.RankDifferentialBatchRequest, context: grpc.ServicerContext
    ) -> bytes:
        """The response serialized (sent as it is: ``register``)."""
        return rank_differential_batch_bytes(request)

    @translate_errors
    def NextQuestion(
        self, request: differential_pb2.NextQuestionRequest, context: grpc.ServicerContext
    ) -> differential_pb2.NextQuestionResponse:
        return next_question(request)


def register(server: grpc.Server) -> None:
    bytes_responses(differential_pb2_grpc.add_DifferentialServiceServicer_to_server, DifferentialServicer(), server,
                    ["RankDifferentialBatch"])


def warm_up() -> None:
    """Load the knowledge base and compile the ranking arrays, before the port opens."""
    rank_differential(
        differential_pb2.RankDifferentialRequest(
            evidence=[common_pb2.Evidence(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)]
        )
    )

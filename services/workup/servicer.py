"""WorkupService over gRPC: the edge only (status, errors); ``handlers`` does the work."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, differential_pb2, workup_pb2, workup_pb2_grpc

from services.differential.handlers import rank_differential
from services.platform.errors import translate_errors
from services.workup.handlers import recommend_tests, recommend_tests_batch, submit_test_results

SERVICE_NAME = workup_pb2.DESCRIPTOR.services_by_name["WorkupService"].full_name


class WorkupServicer(workup_pb2_grpc.WorkupServiceServicer):
    @translate_errors
    def RecommendTests(
        self, request: workup_pb2.RecommendTestsRequest, context: grpc.ServicerContext
    ) -> workup_pb2.RecommendTestsResponse:
        return recommend_tests(request)

    @translate_errors
    def RecommendTestsBatch(
        self, request: workup_pb2.RecommendTestsBatchRequest, context: grpc.ServicerContext
    ) -> workup_pb2.RecommendTestsBatchResponse:
        return recommend_tests_batch(request)

    @translate_errors
    def SubmitTestResults(
        self, request: workup_pb2.SubmitTestResultsRequest, context: grpc.ServicerContext
    ) -> workup_pb2.SubmitTestResultsResponse:
        return submit_test_results(request)


def register(server: grpc.Server) -> None:
    workup_pb2_grpc.add_WorkupServiceServicer_to_server(WorkupServicer(), server)


def warm_up() -> None:
    """Load the knowledge base and compile the ranking and test tables, before the port opens."""
    evidence = [common_pb2.Evidence(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)]
    ranked = rank_differential(differential_pb2.RankDifferentialRequest(evidence=evidence))
    recommend_tests(
        workup_pb2.RecommendTestsRequest(evidence=evidence, differential=ranked.differential)
    )

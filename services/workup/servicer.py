"""WorkupService over gRPC: translate messages, call ``domain``."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, differential_pb2, workup_pb2, workup_pb2_grpc

from services.common import contract, convert
from services.common.errors import InvalidInput, Violation, translate_errors
from services.differential.servicer import case_from_pb, rank_differential
from services.knowledge.loader import knowledge_base
from services.workup import domain

SERVICE_NAME = workup_pb2.DESCRIPTOR.services_by_name["WorkupService"].full_name

OUTCOMES = {
    common_pb2.TEST_OUTCOME_NORMAL: "normal",
    common_pb2.TEST_OUTCOME_ABNORMAL: "abnormal",
}


def recommend_tests(
    request: workup_pb2.RecommendTestsRequest, prefix: str = ""
) -> workup_pb2.RecommendTestsResponse:
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence), prefix)
    if not request.differential.conditions:
        raise InvalidInput(
            [Violation(f"{prefix}differential.conditions", "a ranked differential is required")]
        )
    result = domain.recommend_tests(kb, case, convert.lean_differential_from_pb(request.differential))
    return workup_pb2.RecommendTestsResponse(
        tests=[convert.test_to_pb(t) for t in result.tests],
        note=result.note,
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


def recommend_tests_batch(
    request: workup_pb2.RecommendTestsBatchRequest,
) -> workup_pb2.RecommendTestsBatchResponse:
    kb = knowledge_base()
    results = []
    for index, item in enumerate(request.items):
        try:
            contract.check(item, f"items[{index}].")  # the batch's items are checked one by one
            response = recommend_tests(item, f"items[{index}].")
            results.append(workup_pb2.RecommendTestsBatchResult(index=index, response=response))
        except InvalidInput as exc:
            results.append(
                workup_pb2.RecommendTestsBatchResult(
                    index=index,
                    error=convert.batch_error(index, exc.violations),
                )
            )
    return workup_pb2.RecommendTestsBatchResponse(
        results=results, kb_version=kb.version, disclaimer=kb.disclaimer
    )


def submit_test_results(
    request: workup_pb2.SubmitTestResultsRequest,
) -> workup_pb2.SubmitTestResultsResponse:
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence))
    results = [
        domain.ResultInput(
            test_id=r.test_id,
            outcome=OUTCOMES.get(r.outcome),
            value=r.value if r.HasField("value") else None,
            target_condition_ids=tuple(r.target_condition_ids),
        )
        for r in request.results
    ]
    post = domain.apply_results(kb, case, results)
    return workup_pb2.SubmitTestResultsResponse(
        differential=convert.differential_to_pb(post.differential),
        next_tests=[convert.test_to_pb(t) for t in post.next_tests],
        changes=[
            workup_pb2.ProbabilityChange(
                condition_id=c.condition_id, before=c.before, after=c.after,
                explanation=c.explanation,
            )
            for c in post.changes
        ],
        summary=post.summary,
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


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

"""DifferentialService over gRPC: translate messages, call ``ranking``/``interview``."""

from __future__ import annotations

import grpc
from footcds.v1 import common_pb2, differential_pb2, differential_pb2_grpc

from services.common import contract, convert
from services.common.clinical import Case
from services.common.errors import InvalidInput, Violation, translate_errors
from services.differential import interview, ranking
from services.intake import domain as intake_domain
from services.intake.servicer import evidence_inputs
from services.knowledge.loader import KnowledgeBase, knowledge_base

SERVICE_NAME = differential_pb2.DESCRIPTOR.services_by_name["DifferentialService"].full_name


def case_from_pb(
    kb: KnowledgeBase,
    patient: common_pb2.PatientContext,
    evidence: list[common_pb2.Evidence],
    prefix: str = "",
) -> Case:
    """Validate with the intake rules so a direct caller cannot skip them."""
    return intake_domain.validate(
        kb, convert.patient_from_pb(patient), evidence_inputs(evidence), prefix=prefix
    )


def rank_differential(
    request: differential_pb2.RankDifferentialRequest,
) -> differential_pb2.RankDifferentialResponse:
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence))
    response = differential_pb2.RankDifferentialResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    # Parsed in place from the cached per-condition pieces: no message built twice or copied.
    response.differential.MergeFromString(convert.differential_bytes(ranking.rank(case)))
    return response


def rank_differential_batch(
    request: differential_pb2.RankDifferentialBatchRequest,
) -> differential_pb2.RankDifferentialBatchResponse:
    kb = knowledge_base()
    cases: list[Case] = []
    positions: list[int] = []
    errors: dict[int, common_pb2.BatchItemError] = {}
    for index, item in enumerate(request.items):
        try:
            contract.check(item, f"items[{index}].")  # the batch's items are checked one by one
            cases.append(case_from_pb(kb, item.patient, list(item.evidence), f"items[{index}]."))
            positions.append(index)
        except InvalidInput as exc:
            errors[index] = convert.batch_error(index, exc.violations)
    encoded: dict[int, bytes] = {}
    if cases:
        ranked = ranking.rank_batch(cases, explain=not request.omit_explanations)
        encoded = {
            index: convert.differential_bytes(differential)
            for index, differential in zip(positions, ranked, strict=True)
        }
    response = differential_pb2.RankDifferentialBatchResponse(
        kb_version=kb.version, disclaimer=kb.disclaimer
    )
    for index in range(len(request.items)):
        # Filled in place (each differential parsed from its cached pieces, never copied).
        result = response.results.add(index=index)
        if index in errors:
            result.error.CopyFrom(errors[index])
        else:
            result.differential.MergeFromString(encoded[index])
    return response


def next_question(
    request: differential_pb2.NextQuestionRequest,
) -> differential_pb2.NextQuestionResponse:
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence))
    unknown = [f for f in request.exclude_finding_ids if f not in kb.findings]
    if unknown:
        raise InvalidInput(
            [
                Violation(f"exclude_finding_ids[{i}]", f"unknown finding id {f!r}")
                for i, f in enumerate(request.exclude_finding_ids)
                if f in unknown
            ]
        )
    choice = interview.next_question(
        case, prioritize_dont_miss=request.prioritize_dont_miss, exclude=request.exclude_finding_ids
    )
    leader = ranking.rank(case).conditions[0]
    response = differential_pb2.NextQuestionResponse(
        expected_information_gain=choice.expected_gain,
        should_stop=choice.should_stop,
        stop_reason=choice.stop_reason,
        leader=convert.scored_to_pb(leader),
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )
    if choice.finding_id is not None:
        finding = kb.findings[choice.finding_id]
        response.finding_id = finding.id
        response.question_patient = finding.question_patient
        response.question_clinician = finding.question_clinician
    return response


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

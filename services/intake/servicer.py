"""IntakeService over gRPC: translate messages, call ``domain``, translate back."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import grpc
from footcds.v1 import common_pb2, intake_pb2, intake_pb2_grpc

from services.common import contract, convert
from services.common.errors import InvalidInput, translate_errors
from services.intake import domain, form
from services.knowledge.loader import KnowledgeBase, knowledge_base

SERVICE_NAME = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name


def evidence_inputs(items: Sequence[common_pb2.Evidence]) -> list[domain.EvidenceInput]:
    return [
        domain.EvidenceInput(e.finding_id, convert.PB_TO_STATE.get(e.state)) for e in items
    ]


def answer_inputs(items: Sequence[common_pb2.QuestionnaireAnswer]) -> list[domain.AnswerInput]:
    return [domain.AnswerInput(a.question_id, tuple(a.option_ids)) for a in items]


def normalize_intake(
    request: intake_pb2.NormalizeIntakeRequest, kb: KnowledgeBase | None = None, prefix: str = ""
) -> intake_pb2.NormalizeIntakeResponse:
    kb = kb or knowledge_base()
    result = domain.normalize(
        kb,
        convert.patient_from_pb(request.patient),
        evidence_inputs(request.evidence),
        answer_inputs(request.answers),
        prefix=prefix,
    )
    return intake_pb2.NormalizeIntakeResponse(
        evidence=convert.evidence_to_pb(dict(result.case.evidence)),
        red_flags=[convert.red_flag_to_pb(h) for h in result.red_flags],
        patient=convert.patient_to_pb(result.case.patient),
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


def normalize_intake_batch(
    request: intake_pb2.NormalizeIntakeBatchRequest,
) -> intake_pb2.NormalizeIntakeBatchResponse:
    kb = knowledge_base()
    results = []
    for index, item in enumerate(request.items):
        try:
            contract.check(item, f"items[{index}].")  # the batch's items are checked one by one
            response = normalize_intake(item, kb, prefix=f"items[{index}].")
            results.append(intake_pb2.NormalizeIntakeBatchResult(index=index, response=response))
        except InvalidInput as exc:
            error = convert.batch_error(index, exc.violations)
            results.append(intake_pb2.NormalizeIntakeBatchResult(index=index, error=error))
    return intake_pb2.NormalizeIntakeBatchResponse(
        results=results, kb_version=kb.version, disclaimer=kb.disclaimer
    )


@cache
def intake_form(audience: int) -> intake_pb2.GetIntakeFormResponse:
    kb = knowledge_base()
    patient = audience != intake_pb2.FORM_AUDIENCE_CLINICIAN
    return intake_pb2.GetIntakeFormResponse(
        questions=[
            intake_pb2.FormQuestion(
                question_id=q.id,
                text=q.text_patient if patient else q.text_clinician,
                kind=q.kind,
                options=[
                    intake_pb2.FormOption(
                        option_id=o.id,
                        label=o.label,
                        sets_present=o.sets_present,
                        sets_absent=o.sets_absent,
                    )
                    for o in q.options
                ],
            )
            for q in kb.questions
        ],
        fhir_questionnaire_json=form.fhir_questionnaire(kb, "patient" if patient else "clinician"),
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


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

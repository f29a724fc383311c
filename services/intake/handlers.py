"""Intake handlers: message in, message out, calling ``domain``.

Used by the servicer (the gRPC edge) and the in-process runner alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from footcds.v1 import common_pb2, intake_pb2

from services.intake import domain, form
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.wire import convert
from services.wire.batch import each_item


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
        convert.patient_from_pb(request.patient, prefix),
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
    results = [
        intake_pb2.NormalizeIntakeBatchResult(index=index, error=outcome)
        if isinstance(outcome, common_pb2.BatchItemError)
        else intake_pb2.NormalizeIntakeBatchResult(index=index, response=outcome)
        for index, outcome in each_item(request.items, lambda item, prefix: normalize_intake(item, kb, prefix))
    ]
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

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
from services.wire.encoding import evidence_entry, message_field_tag


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
    result = _normalized(request, kb, prefix)
    return intake_pb2.NormalizeIntakeResponse(
        evidence=convert.evidence_to_pb(dict(result.case.evidence)),
        red_flags=[convert.red_flag_to_pb(h) for h in result.red_flags],
        patient=convert.patient_to_pb(result.case.patient),
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


def _normalized(
    request: intake_pb2.NormalizeIntakeRequest, kb: KnowledgeBase, prefix: str
) -> domain.NormalizedIntake:
    return domain.normalize(
        kb,
        convert.patient_from_pb(request.patient, prefix),
        evidence_inputs(request.evidence),
        answer_inputs(request.answers),
        prefix=prefix,
    )


def normalize_intake_batch(
    request: intake_pb2.NormalizeIntakeBatchRequest,
) -> intake_pb2.NormalizeIntakeBatchResponse:
    """Each item as ``normalize_intake`` answers it, written straight into its result: no
    response built, copied into a result and copied again into the batch (two copies of
    every athlete's evidence; ``tests/test_batch_rows.py`` compares with the single RPC)."""
    kb = knowledge_base()
    response = intake_pb2.NormalizeIntakeBatchResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    for index, outcome in each_item(request.items, lambda item, prefix: _normalized(item, kb, prefix)):
        result = response.results.add(index=index)
        if isinstance(outcome, common_pb2.BatchItemError):
            result.error.CopyFrom(outcome)
            continue
        target = result.response
        # The evidence as ``convert.evidence_to_pb`` orders it, merged as one run of memoised
        # entry bytes (an entry is its id and state alone), not an entry added per finding.
        to_pb = convert.STATE_TO_PB
        entries = [evidence_entry(_TAG_EVIDENCE, f, to_pb[s]) for f, s in outcome.case.evidence.items()]
        target.MergeFromString(b"".join(entries))
        target.red_flags.extend([convert.red_flag_to_pb(h) for h in outcome.red_flags])
        target.patient.CopyFrom(convert.patient_to_pb(outcome.case.patient))
        target.kb_version = kb.version
        target.disclaimer = kb.disclaimer
    return response


_TAG_EVIDENCE = message_field_tag(intake_pb2.NormalizeIntakeResponse, "evidence")


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

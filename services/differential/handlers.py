"""Differential handlers: message in, message out, calling ``ranking``/``interview``.

Used by the servicer (the gRPC edge), the other services and the in-process runner alike.
"""

from __future__ import annotations

from footcds.v1 import common_pb2, differential_pb2

from services.differential import batch_rows, interview, ranking
from services.intake import domain as intake_domain
from services.intake.handlers import evidence_inputs
from services.knowledge.clinical import Case
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.platform.errors import InvalidInput, Violation
from services.wire import batch, convert, encoding
from services.wire.batch import each_item


def case_from_pb(
    kb: KnowledgeBase,
    patient: common_pb2.PatientContext,
    evidence: list[common_pb2.Evidence],
    prefix: str = "",
    *,
    columns: bool = True,
) -> Case:
    """Validate with the intake rules so a direct caller cannot skip them (``columns``: see
    ``intake.domain.validate``)."""
    return intake_domain.validate(
        kb, convert.patient_from_pb(patient, prefix), evidence_inputs(evidence), prefix=prefix, columns=columns
    )


def rank_differential(
    request: differential_pb2.RankDifferentialRequest,
) -> differential_pb2.RankDifferentialResponse:
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence))
    response = differential_pb2.RankDifferentialResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    # Parsed in place from the cached per-condition pieces: no message built twice or copied.
    response.differential.MergeFromString(encoding.differential_bytes(ranking.rank(case)))
    return response


def rank_differential_batch(
    request: differential_pb2.RankDifferentialBatchRequest,
) -> differential_pb2.RankDifferentialBatchResponse:
    """Each case checked and ranked on its own; the batch's answers as a response message."""
    return differential_pb2.RankDifferentialBatchResponse.FromString(rank_differential_batch_bytes(request))


def rank_differential_batch_bytes(request: differential_pb2.RankDifferentialBatchRequest) -> bytes:
    """``rank_differential_batch``'s response serialized: what the servicer sends as it is."""
    kb = knowledge_base()
    cases: list[Case] = []
    positions: list[int] = []
    errors: dict[int, common_pb2.BatchItemError] = {}
    checked = each_item(request.items, lambda item, prefix: case_from_pb(kb, item.patient, list(item.evidence), prefix))
    for index, outcome in checked:
        if isinstance(outcome, common_pb2.BatchItemError):
            errors[index] = outcome
        else:
            cases.append(outcome)
            positions.append(index)
    encoded: dict[int, bytes] = {}
    if cases and request.omit_explanations:
        # No dataclass per condition: encoded from the probability rows (the screening path).
        rows = batch_rows.rank_batch_rows(cases)
        encoded = {
            index: encoding.ranked_row_bytes(r.order, r.values, r.dont_miss, r.triage, r.statics, r.floor)
            for index, r in zip(positions, rows, strict=True)
        }
    elif cases:
        ranked = ranking.rank_batch(cases, explain=True)
        encoded = {
            index: encoding.differential_bytes(differential)
            for index, differential in zip(positions, ranked, strict=True)
        }
    # The response as bytes: each differential's bytes spliced in, never parsed into a message
    # that gRPC would serialize again (``wire.batch.response_bytes``; thirteenth pass).
    return batch.response_bytes(
        ((index, errors[index] if index in errors else encoded[index]) for index in range(len(request.items))),
        batch.response_tail(differential_pb2.RankDifferentialBatchResponse, kb.version, kb.disclaimer),
    )


batch.check_result_tags(differential_pb2.RankDifferentialBatchResponse, "differential")


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

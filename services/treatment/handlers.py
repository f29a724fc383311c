"""Treatment handlers: message in, message out, calling ``domain``.

Used by the servicer (the gRPC edge) and the in-process runner alike.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from footcds.v1 import treatment_pb2

from services.intake.domain import validate_patient
from services.knowledge.clinical import PlanItem
from services.knowledge.loader import knowledge_base
from services.platform.errors import InvalidInput, Violation
from services.treatment import domain
from services.wire import batch, convert
from services.wire.batch import each_item

PLAN_CACHE_SIZE = 4096


@lru_cache(maxsize=PLAN_CACHE_SIZE)
def encoded_plan(inputs: domain.PlanInputs) -> bytes:
    """The serialized plan for its complete inputs (``domain.PlanInputs``).

    A plan depends on nothing else, and a team of thousands shares a few hundred distinct
    ones, so they are kept (bounded, least recently used first out) for the process's
    knowledge base, which is loaded once.
    """
    plan = domain.plan_from_inputs(knowledge_base(), inputs)
    message = convert.plan_to_pb(replace(plan, items=()))
    add = message.items.add
    for item in plan.items:
        add().MergeFromString(_item_bytes(item))
    return message.SerializeToString()


@lru_cache(maxsize=PLAN_CACHE_SIZE)
def _item_bytes(item: PlanItem) -> bytes:
    """One plan item serialized: a roster's plans differ in a few of the same few hundred
    items, so a plan not seen before is mostly items seen before (eleventh pass)."""
    return convert.plan_item_to_pb(item).SerializeToString()


def _plan_bytes(request: treatment_pb2.PlanTreatmentRequest, prefix: str = "") -> bytes:
    """The serialized ``TreatmentPlan`` for a request, validated, reused when seen before.

    Of the differential a plan reads only the condition ids and probabilities (in order) and
    the triage, so only those are read from the message (``convert.differential_columns``): not
    a condition object per condition, ~70 us per athlete of a roster (docs/performance.md, seventh pass).
    """
    kb = knowledge_base()
    patient = convert.patient_from_pb(request.patient, prefix)
    problems = validate_patient(patient, f"{prefix}patient")
    ids, probabilities = convert.differential_columns(request.differential)
    if not ids:
        problems.append(Violation(f"{prefix}differential.conditions", "a ranked differential is required"))
    known = kb.conditions
    problems += [
        Violation(f"{prefix}differential.conditions[{i}].condition_id", f"unknown condition {c!r}")
        for i, c in enumerate(ids)
        if c not in known
    ]
    if problems:
        raise InvalidInput(problems)
    triage = convert.triage_from_pb(request.differential.triage)
    return encoded_plan(domain.ranked_inputs(kb, patient, ids, probabilities, triage))


def plan_treatment(request: treatment_pb2.PlanTreatmentRequest) -> treatment_pb2.PlanTreatmentResponse:
    kb = knowledge_base()
    response = treatment_pb2.PlanTreatmentResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    response.plan.MergeFromString(_plan_bytes(request))
    return response


def plan_treatment_batch(
    request: treatment_pb2.PlanTreatmentBatchRequest,
) -> treatment_pb2.PlanTreatmentBatchResponse:
    """Each item planned on its own; the batch's answers as a response message."""
    return treatment_pb2.PlanTreatmentBatchResponse.FromString(plan_treatment_batch_bytes(request))


def plan_treatment_batch_bytes(request: treatment_pb2.PlanTreatmentBatchRequest) -> bytes:
    """``plan_treatment_batch``'s response serialized, each plan's cached bytes spliced in (not
    parsed into a message that gRPC would serialize again; thirteenth pass): what the servicer sends."""
    kb = knowledge_base()
    return batch.response_bytes(
        each_item(request.items, _plan_bytes),
        batch.response_tail(treatment_pb2.PlanTreatmentBatchResponse, kb.version, kb.disclaimer),
    )




batch.check_result_tags(treatment_pb2.PlanTreatmentBatchResponse, "plan")

"""Encounter handlers: message in, message out (used by the servicer and ``--local``)."""

from __future__ import annotations

import json

from footcds.v1 import encounter_pb2


def assess_response(
    assessment: encounter_pb2.Assessment, include_fhir: bool
) -> encounter_pb2.AssessResponse:
    response = encounter_pb2.AssessResponse(
        assessment=assessment, kb_version=assessment.kb_version, disclaimer=assessment.disclaimer
    )
    return _with_fhir(response, include_fhir)


def assess_response_from_bytes(answer: bytes, include_fhir: bool) -> encounter_pb2.AssessResponse:
    """``assess_response`` from a serialized Assessment (the Celery task's result): parsed
    once, in place, where parsing an Assessment and copying it into the response read the
    whole differential twice."""
    response = encounter_pb2.AssessResponse()
    assessment = response.assessment
    assessment.MergeFromString(answer)
    response.kb_version = assessment.kb_version
    response.disclaimer = assessment.disclaimer
    return _with_fhir(response, include_fhir)


def _with_fhir(response: encounter_pb2.AssessResponse, include_fhir: bool) -> encounter_pb2.AssessResponse:
    if include_fhir:
        assessment = response.assessment
        from services.encounter.fhir import assessment_bundle  # fhir.resources loads only when asked

        response.fhir_bundle_json = json.dumps(assessment_bundle(assessment))
    return response

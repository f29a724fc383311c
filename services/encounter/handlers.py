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
    if include_fhir:
        from services.encounter.fhir import assessment_bundle  # fhir.resources loads only when asked

        response.fhir_bundle_json = json.dumps(assessment_bundle(assessment))
    return response

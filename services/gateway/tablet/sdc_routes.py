"""FHIR routes of the adaptive intake: the base Questionnaire and ``$next-question``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.common.auth import TABLET
from services.gateway.app import Gateway, gateway
from services.gateway.credentials import DEVICE_COOKIE
from services.gateway.outcome import FHIR_JSON, NO_STORE, HttpProblem, Issue
from services.gateway.suite_client import SuiteError

router = APIRouter()


def suite_problem(error: SuiteError) -> HttpProblem:
    """A suite failure as the HTTP answer: violations keep their field names."""
    issues = [Issue(v.field, v.description) for v in error.violations] or [Issue("", f"{error.rpc}: {error.message}")]
    return HttpProblem(error.http_status, issues)


def fhir_response(resource: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON, headers=NO_STORE)


@router.get("/fhir/Questionnaire/foot-numbness-intake")
async def base_questionnaire(request: Request, gw: Gateway = Depends(gateway)) -> JSONResponse:  # noqa: B008
    """The base Questionnaire every adaptive intake is ``derivedFrom`` (GetIntakeForm's FHIR form)."""
    caller = gw.auth.require(request, TABLET, DEVICE_COOKIE)
    try:
        form = await gw.suite.get_intake_form(caller.suite_token)
    except SuiteError as exc:
        raise suite_problem(exc) from None
    resource: dict[str, Any] = json.loads(form.fhir_questionnaire_json)
    resource["id"] = "foot-numbness-intake"
    return fhir_response(resource)

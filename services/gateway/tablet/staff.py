"""Staff and clinician view: the day's completed intakes, each with its full assessment.

A ``staff`` credential is needed (Bearer, or the session cookie set by /staff/login, scoped
to /staff). Every read is audited. Intakes come from Redis (store.py) and expire there.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.gateway.app import Gateway, gateway
from services.gateway.auditing import audit
from services.gateway.credentials import STAFF_COOKIE, Caller
from services.gateway.outcome import FHIR_JSON, NO_STORE, HttpProblem, Issue
from services.gateway.tablet import staff_render
from services.gateway.tablet.sdc_routes import store_of
from services.gateway.tablet.store import IntakeRecord, day_of
from services.platform.auth import STAFF

router = APIRouter()


def staff_or_none(request: Request, gw: Gateway) -> Caller | None:
    try:
        return gw.auth.require(request, STAFF, STAFF_COOKIE)
    except HttpProblem:
        return None


@router.get("/staff", response_class=HTMLResponse)
async def staff_home(request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    caller = staff_or_none(request, gw)
    if caller is None:
        return HTMLResponse(staff_render.login(), headers=NO_STORE)
    records = await store_of(gw).today()
    await audit(gw.audit, caller, "GET /staff", count=len(records))
    return HTMLResponse(staff_render.intake_list(records, day_of(time.time())), headers=NO_STORE)


@router.post("/staff/login")
async def staff_login(request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    token = (parse_qs((await request.body()).decode(errors="replace")).get("token") or [""])[0].strip()
    principal = gw.auth.principal_of(token) if token else None
    if principal is None or STAFF not in principal.scopes:
        return HTMLResponse(staff_render.login("That is not a staff token (unknown, revoked, or without the "
                                               "'staff' scope)."), status_code=401, headers=NO_STORE)
    reply = RedirectResponse("/staff", status_code=303, headers=NO_STORE)
    # A session cookie (no max-age), only sent to /staff: closing the browser signs out.
    reply.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="strict", secure=gw.cfg.gateway_secure_cookies,
                     path="/staff")
    return reply


@router.post("/staff/logout")
async def staff_logout() -> Response:
    reply = RedirectResponse("/staff", status_code=303, headers=NO_STORE)
    reply.delete_cookie(STAFF_COOKIE, path="/staff")
    return reply


async def _record(request: Request, gw: Gateway, ref: str, what: str) -> tuple[Caller, IntakeRecord]:
    caller = gw.auth.require(request, STAFF, STAFF_COOKIE)
    record = await store_of(gw).get(ref)
    if record is None:
        raise HttpProblem(404, [Issue("ref", f"no intake {ref!r} (unknown, or expired)")])
    await audit(gw.audit, caller, what, ref=ref, kb_version=record.kb_version, triage=record.triage)
    return caller, record


@router.get("/staff/intakes/{ref}", response_class=HTMLResponse)
async def staff_intake(ref: str, request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    _, record = await _record(request, gw, ref, "GET /staff/intakes/{ref}")
    return HTMLResponse(staff_render.intake_detail(record), headers=NO_STORE)


@router.get("/staff/intakes/{ref}/QuestionnaireResponse")
async def staff_questionnaire_response(ref: str, request: Request,
                                       gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    _, record = await _record(request, gw, ref, "GET /staff/intakes/{ref}/QuestionnaireResponse")
    return JSONResponse(record.questionnaire_response, media_type=FHIR_JSON, headers=NO_STORE)


@router.get("/staff/intakes/{ref}/Bundle")
async def staff_bundle(ref: str, request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    _, record = await _record(request, gw, ref, "GET /staff/intakes/{ref}/Bundle")
    return JSONResponse(record.bundle, media_type=FHIR_JSON, headers=NO_STORE)


@router.get("/staff/api/intakes")
async def staff_api_intakes(request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    """Today's intakes as JSON (summaries, emergencies first) for desk software."""
    caller = gw.auth.require(request, STAFF, STAFF_COOKIE)
    records = await store_of(gw).today()
    await audit(gw.audit, caller, "GET /staff/api/intakes", count=len(records))
    return JSONResponse({"intakes": [r.summary() for r in records]}, headers=NO_STORE)

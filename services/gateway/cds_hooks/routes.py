"""CDS Hooks 2.0 HTTP routes: discovery, the two hooks, feedback, the card's clinician link.

    GET  /cds-services                      discovery (no patient data; open)
    POST /cds-services/{id}                 a hook call (JWT from a trusted EHR)
    POST /cds-services/{id}/feedback        accepted / overridden cards (JWT)
    GET  /staff/assessments/{ref}           the assessment a card links to (staff credential)
    GET  /metrics                           Prometheus text: card and feedback counts per kind
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from footcds.v1 import encounter_pb2, intake_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.cli.render import assessment_json
from services.gateway.app import Gateway
from services.gateway.auditing import audit
from services.gateway.cds_hooks import cards as card_mod
from services.gateway.cds_hooks import fhir_data, mapping, orders, schemas
from services.gateway.cds_hooks.feedback import record_feedback
from services.gateway.cds_hooks.security import EhrCaller, JwtVerifier
from services.gateway.cds_hooks.store import CardRecord, CdsStore
from services.gateway.cds_hooks.view import assessment_html
from services.gateway.credentials import STAFF_COOKIE
from services.gateway.outcome import NO_STORE, HttpProblem, Issue
from services.gateway.suite_client import SuiteError
from services.platform.auth import STAFF
from services.platform.metrics import CDS_CARDS

router = APIRouter()
PATIENT_VIEW, ORDER_SELECT = "footcds-patient-view", "footcds-order-select"
FORM_TTL_S = 300.0
SERVICES: dict[str, dict[str, Any]] = {
    PATIENT_VIEW: {
        "hook": "patient-view", "id": PATIENT_VIEW, "title": "FootCDS: foot and lower-leg numbness",
        "description": ("When a chart opens: triage (red flags first), the likely causes of foot or leg numbness "
                        "with their evidence, and the first tests as proposed orders. Decision support for a "
                        "clinician, never a diagnosis."),
        "prefetch": fhir_data.PREFETCH,
    },
    ORDER_SELECT: {
        "hook": "order-select", "id": ORDER_SELECT, "title": "FootCDS: the right next test for leg numbness",
        "description": ("When imaging, EMG or nerve conduction is selected for a foot/leg numbness patient: whether "
                        "it is the best next test, and the better order where it is not (e.g. nerve conduction "
                        "before a foot MRI for suspected tarsal tunnel; lumbar MRI now for suspected cauda equina)."),
        "prefetch": fhir_data.PREFETCH,
    },
}


class Parts:
    """Per-app CDS Hooks parts, made on first use (the app's Gateway owns Redis and the suite)."""

    def __init__(self, gw: Gateway) -> None:
        self.verifier = JwtVerifier(gw.cfg, gw.redis)
        self.store = CdsStore(gw.redis, gw.cfg.cds_card_ttl_seconds, gw.cfg.gateway_intake_ttl_seconds)
        self.form: intake_pb2.GetIntakeFormResponse | None = None
        self.form_at = 0.0


async def parts(request: Request) -> tuple[Gateway, Parts]:
    """async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool (a hop per call)."""
    gw: Gateway = request.app.state.gateway
    found = getattr(request.app.state, "cds_hooks", None)
    if found is None:
        found = request.app.state.cds_hooks = Parts(gw)
    return gw, found


def base_url(gw: Gateway, request: Request) -> str:
    return gw.cfg.cds_base_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"


def cds_json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise HttpProblem(400, [Issue("", "the body is not JSON")]) from None
    if not isinstance(body, dict):
        raise HttpProblem(400, [Issue("", "the body must be a JSON object")])
    return body


@router.get("/cds-services")
async def discovery() -> JSONResponse:
    return cds_json({"services": list(SERVICES.values())})


async def intake_form(gw: Gateway, cds: Parts) -> intake_pb2.GetIntakeFormResponse:
    if cds.form is None or time.monotonic() - cds.form_at > FORM_TTL_S:
        cds.form = await gw.suite.get_intake_form(gw.auth.service_token, intake_pb2.FORM_AUDIENCE_CLINICIAN)
        cds.form_at = time.monotonic()
    return cds.form


async def assess(gw: Gateway, cds: Parts, body: dict[str, Any]) -> tuple[encounter_pb2.AssessResponse | None, str]:
    """The suite's assessment of the hook's patient, or None when there is nothing about numbness."""
    data = await fhir_data.gather(body, gw.cfg.cds_fhir_timeout_seconds)
    if not data.has_clinical_data:
        return None, ""
    ref = mapping.patient_ref(str(body.get("fhirServer", "")), str(body["context"]["patientId"]))
    try:
        form = await intake_form(gw, cds)
        request = mapping.assess_request(data.patient, ref, data.intake, data.conditions, data.observations, form)
        if not request.evidence and not request.answers:
            return None, ref
        return await gw.suite.assess(gw.auth.service_token, request), ref
    except SuiteError as exc:
        issues = [Issue(f"prefetch.{v.field}", v.description) for v in exc.violations]
        raise HttpProblem(exc.http_status, issues or [Issue("", f"{exc.rpc}: {exc.message}")]) from None


async def finish(gw: Gateway, cds: Parts, caller: EhrCaller, service_id: str, reply: encounter_pb2.AssessResponse,
                 patient_ref: str, made: list[tuple[dict[str, Any], str, list[str]]], ref: str) -> JSONResponse:
    a = reply.assessment
    leading = [c.condition_id for c in a.differential.conditions[:3]]
    records = {card["uuid"]: CardRecord(service_id, kind, card["indicator"], int(a.triage.level), leading, ref,
                                        patient_ref, uuids) for card, kind, uuids in made}
    # Stored as the protobuf (rendered when the link is opened): no JSON of the whole
    # differential on the hook's critical path. Saving and auditing go side by side.
    saved = cds.store.save(records, ref, a.SerializeToString())
    audited = audit(gw.audit, caller.as_caller(), f"CDSHooks/{service_id}", ref=patient_ref,
                    kb_version=reply.kb_version, triage=int(a.triage.level), leading=leading, count=len(made))
    await asyncio.gather(saved, audited)
    for card, kind, _ in made:
        CDS_CARDS.labels(service_id, kind, card["indicator"]).inc()
    return cds_json({"cards": [card for card, _, _ in made]})


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request, both: tuple[Gateway, Parts] = Depends(parts)) -> JSONResponse:  # noqa: B008
    gw, cds = both
    if service_id not in SERVICES:
        raise HttpProblem(404, [Issue("", f"no CDS service {service_id!r}")])
    base = base_url(gw, request)
    caller = await cds.verifier.verify(request.headers.get("authorization", ""), base + request.url.path)
    body = await read_json(request)
    schemas.check("request", body)
    if body["hook"] != SERVICES[service_id]["hook"]:
        raise HttpProblem(400, [Issue("hook", f"{service_id} answers the {SERVICES[service_id]['hook']!r} hook")])
    context = body["context"]
    if service_id == ORDER_SELECT and not orders.selected_orders(context):
        return cds_json({"cards": []})  # no imaging / EMG / NCS selected: nothing to say
    reply, patient_ref = await assess(gw, cds, body)
    if reply is None:
        return cds_json({"cards": []})  # no foot/leg numbness data for this patient
    ref = str(uuid.uuid4())
    made: list[tuple[dict[str, Any], str, list[str]]] = []
    if service_id == PATIENT_VIEW:
        made.append(card_mod.patient_view_card(reply.assessment, context, base, ref))
    else:
        for order, test_id in orders.selected_orders(context):
            found = orders.order_card(order, test_id, reply.assessment, context, base)
            if found is not None:
                made.append(found)
    return await finish(gw, cds, caller, service_id, reply, patient_ref, made, ref)


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request, both: tuple[Gateway, Parts] = Depends(parts)) -> JSONResponse:  # noqa: B008
    gw, cds = both
    if service_id not in SERVICES:
        raise HttpProblem(404, [Issue("", f"no CDS service {service_id!r}")])
    audience = base_url(gw, request) + request.url.path
    caller = await cds.verifier.verify(request.headers.get("authorization", ""), audience)
    body = await read_json(request)
    schemas.check("feedback", body)
    await record_feedback(service_id, body, caller, cds.store, gw.audit)
    return cds_json({})


@router.get("/staff/assessments/{ref}")
async def staff_assessment(ref: str, request: Request, both: tuple[Gateway, Parts] = Depends(parts)) -> Response:  # noqa: B008
    """The full assessment behind a card (staff credential: a Bearer token, or the /staff sign-in
    cookie); HTML for a browser, JSON otherwise; expired ones are gone (404)."""
    gw, cds = both
    staff = gw.auth.require(request, STAFF, STAFF_COOKIE)
    found = await cds.store.assessment(ref) if len(ref) <= 64 else None
    if found is None:
        raise HttpProblem(404, [Issue("ref", "no such assessment (unknown or expired)")])
    assessment = encounter_pb2.Assessment.FromString(found)
    await audit(gw.audit, staff, "CDSHooks/staff/assessment", ref=assessment.patient.patient_ref,
                kb_version=assessment.kb_version, triage=int(assessment.triage.level),
                leading=[c.condition_id for c in assessment.differential.conditions[:3]])
    rendered = assessment_json(assessment)
    if "text/html" in request.headers.get("accept", ""):  # a clinician's browser, from the card's link
        return HTMLResponse(assessment_html(ref, rendered), headers=NO_STORE)
    return cds_json({"assessment": rendered, "disclaimer": assessment.disclaimer})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

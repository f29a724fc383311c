"""FHIR routes of the adaptive intake: the base Questionnaire and ``$next-question``.

Each ``$next-question`` call: NormalizeIntake (what the answers mean, red flags) -> a red flag
ends the interview at once with the emergency instruction -> otherwise NextQuestion chooses;
when it says stop (or the question cap is reached) the intake is completed: Assess with the
FHIR Bundle, stored for staff, audited. The patient's reply never carries the assessment.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from footcds.v1 import common_pb2, encounter_pb2, intake_pb2
from google.protobuf.json_format import MessageToDict

from services.gateway.app import Gateway, gateway
from services.gateway.auditing import audit
from services.gateway.credentials import DEVICE_COOKIE, Caller
from services.gateway.outcome import FHIR_JSON, NO_STORE, HttpProblem, Issue, bad_input
from services.gateway.suite_client import SuiteError
from services.gateway.tablet import sdc
from services.gateway.tablet.store import IntakeRecord, IntakeStore
from services.platform.auth import TABLET

router = APIRouter()
OPENING = ("q_location",)  # the body map comes first: where it is numb is what a patient knows best
FORM_CACHE_S = 60.0
NEXT_QUESTION = "POST /fhir/Questionnaire/$next-question"
MAX_BODY_BYTES = 512 * 1024  # a whole interview is a few kB; anything near this is not a tablet
DRAIN_LIMIT_BYTES = 4 * 1024 * 1024  # over-size bodies up to this are read and dropped before the 413


def suite_problem(error: SuiteError, interview: sdc.Interview | None = None) -> HttpProblem:
    """A suite failure as the HTTP answer; violations name the item of the request."""
    if not error.violations:
        return HttpProblem(error.http_status, [Issue("", f"{error.rpc}: {error.message}")])
    where = interview.expression if interview is not None else (lambda v: v.field)
    return HttpProblem(error.http_status, [Issue(where(v), v.description) for v in error.violations])


def fhir_response(resource: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON, headers=NO_STORE)


async def intake_form(gw: Gateway, caller: Caller) -> intake_pb2.GetIntakeFormResponse:
    """GetIntakeForm (patient wording), cached briefly: it changes only with the knowledge base."""
    cached = gw.cache.get("form")
    if cached is not None and time.monotonic() - cached[0] < FORM_CACHE_S:
        form: intake_pb2.GetIntakeFormResponse = cached[1]
        return form
    try:
        form = await gw.suite.get_intake_form(caller.suite_token)
    except SuiteError as exc:
        raise suite_problem(exc) from None
    gw.cache["form"] = (time.monotonic(), form)
    return form


def store_of(gw: Gateway) -> IntakeStore:
    return IntakeStore(gw.redis, gw.cfg.gateway_intake_ttl_seconds)


@router.get("/fhir/Questionnaire/foot-numbness-intake")
async def base_questionnaire(request: Request, gw: Gateway = Depends(gateway)) -> JSONResponse:  # noqa: B008
    """The base Questionnaire every adaptive intake is ``derivedFrom`` (GetIntakeForm's FHIR form)."""
    caller = gw.auth.require(request, TABLET, DEVICE_COOKIE)
    form = await intake_form(gw, caller)
    resource: dict[str, Any] = json.loads(form.fhir_questionnaire_json)
    resource["id"] = "foot-numbness-intake"
    resource["extension"] = [{"url": sdc.ADAPTIVE_EXTENSION, "valueBoolean": True}]
    return fhir_response(resource)


async def read_limited(request: Request) -> bytes:
    """The body, or 413 once it passes MAX_BODY_BYTES.

    An over-size body is still read (and dropped) up to DRAIN_LIMIT_BYTES before the answer, so
    the client, still sending, gets the 413 rather than a reset connection; past that the
    connection is cut.
    """
    declared = int(request.headers.get("content-length") or 0)
    if declared > DRAIN_LIMIT_BYTES:
        raise HttpProblem(413, [Issue("", f"the body is over {MAX_BODY_BYTES} bytes")])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_LIMIT_BYTES:
            break
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        raise HttpProblem(413, [Issue("", f"the body is over {MAX_BODY_BYTES} bytes")])
    return b"".join(chunks)


@router.post("/fhir/Questionnaire/$next-question")
@router.post("/fhir/Questionnaire/foot-numbness-intake/$next-question")
async def next_question(request: Request, gw: Gateway = Depends(gateway)) -> JSONResponse:  # noqa: B008
    caller = gw.auth.require(request, TABLET, DEVICE_COOKIE)
    raw = await read_limited(request)
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_input("", "the body is not JSON") from None
    form = await intake_form(gw, caller)
    questions = {q.question_id: q for q in form.questions}
    interview = sdc.parse(body, questions, f"in-{secrets.token_hex(8)}")
    base = json.loads(form.fhir_questionnaire_json)
    patient = common_pb2.PatientContext(patient_ref=interview.ref)
    normalized = intake_pb2.NormalizeIntakeResponse()  # nothing known yet (or only "I don't know")
    if interview.answers or interview.evidence:
        try:
            normalized = await gw.suite.normalize_intake(caller.suite_token, intake_pb2.NormalizeIntakeRequest(
                patient=patient, evidence=interview.evidence, answers=interview.answers))
        except SuiteError as exc:
            raise suite_problem(exc, interview) from None

    def reply(status: str, item: dict[str, Any] | None, alert: str = "") -> dict[str, Any]:
        return sdc.finish(interview, base=base["url"], version=form.kb_version, status=status, new_item=item,
                          alert=alert)

    red_flags = list(normalized.red_flags)
    if red_flags:  # red flags always win: stop asking, tell the patient, put it in front of staff
        level = "emergency" if any(f.level == common_pb2.TRIAGE_LEVEL_EMERGENCY for f in red_flags) else "urgent"
        return await complete(gw, caller, interview, raw, red_flags, level, reply)
    if len(interview.asked) >= gw.cfg.gateway_max_questions:
        return await complete(gw, caller, interview, raw, [], "", reply)
    opening = [questions[q] for q in OPENING if q in questions and q not in interview.asked]
    if opening:
        return fhir_response(reply("in-progress", sdc.form_item(opening[0], base["url"])))
    asked_findings = [link for link in interview.asked if link not in questions and link != "alert"]
    try:
        choice = await gw.suite.next_question(caller.suite_token, patient, list(normalized.evidence),
                                              exclude=asked_findings)
    except SuiteError as exc:
        raise suite_problem(exc, interview) from None
    if choice.should_stop or not choice.finding_id or choice.finding_id in interview.asked:
        return await complete(gw, caller, interview, raw, [], "", reply)
    covering = [q for q in form.questions if q.question_id not in interview.asked and any(
        choice.finding_id in (*o.sets_present, *o.sets_absent) for o in q.options)]
    item = (sdc.form_item(covering[0], base["url"]) if covering
            else sdc.finding_item(choice.finding_id, choice.question_patient))
    return fhir_response(reply("in-progress", item))


async def complete(gw: Gateway, caller: Caller, interview: sdc.Interview, raw: bytes,
                   red_flags: list[common_pb2.RedFlag], alert: str, reply: Any) -> JSONResponse:
    """Assess the finished intake, store it for staff, audit it; the patient gets the QR only.
    An intake with no answer at all ("I don't know" throughout) is stored unassessed. An intake
    reference completed by another device is refused (a tablet cannot overwrite another's)."""
    earlier = await store_of(gw).get(interview.ref)
    if earlier is not None and earlier.device != caller.client_id:
        raise HttpProblem(409, [Issue(f"{sdc.QR}.id", "this intake reference belongs to another device; "
                                                      "start a new intake without an id")])
    assessed = encounter_pb2.AssessResponse()
    try:
        if interview.answers or interview.evidence:
            assessed = await gw.suite.assess(caller.suite_token, encounter_pb2.AssessRequest(
                patient=common_pb2.PatientContext(patient_ref=interview.ref), evidence=interview.evidence,
                answers=interview.answers, include_fhir_bundle=True))
    except SuiteError as exc:
        raise suite_problem(exc, interview) from None
    assessment = assessed.assessment
    emergency = assessment.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY
    alert = "emergency" if emergency else alert
    resource = reply("completed", None, alert)
    record = IntakeRecord(
        ref=interview.ref, completed_at=time.time(), device=caller.client_id, triage=int(assessment.triage.level),
        emergency=emergency or alert == "emergency", alert=alert,
        red_flags=[f.description for f in (red_flags or assessment.triage.red_flags)],
        questions=len([q for q in interview.asked if q != "alert"]), kb_version=assessed.kb_version,
        assessment=MessageToDict(assessment, preserving_proto_field_name=True),
        questionnaire_response=resource, bundle=json.loads(assessed.fhir_bundle_json or "{}"),
    )
    await audit(gw.audit, caller, NEXT_QUESTION, ref=interview.ref, request=raw, kb_version=assessed.kb_version,
                triage=record.triage, leading=[c.condition_id for c in assessment.differential.conditions[:3]],
                count=record.questions)
    await store_of(gw).save(record)
    return fhir_response(resource)

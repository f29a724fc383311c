"""Helpers for the CDS Hooks tests: FHIR resources an EHR would hold, a FHIR stub server, HTTP."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.gateway.cds_hooks.schemas import problems
from services.intake.form import FORM_URL

CPT = "http://www.ama-assn.org/go/cpt"

# Intake answers (question id -> option ids) as a tablet would record them.
CAUDA_EQUINA = {"q_location": ["saddle", "whole_foot"], "q_sides": ["both_same"],
                "q_sensations": ["back_pain", "leg_pain"], "q_warning_signs": ["bladder_bowel", "weakness"]}
TARSAL_TUNNEL = {"q_location": ["sole", "medial_ankle"], "q_sides": ["one"], "q_onset": ["gradual"],
                 "q_pattern": ["standing_walking"], "q_sensations": ["burning", "tingling"],
                 "q_warning_signs": ["none"], "q_injuries": ["none"]}
TIGHT_LACES = {"q_location": ["dorsum"], "q_sides": ["one"], "q_pattern": ["running_only"], "q_relief": ["shoes"],
               "q_sensations": ["tingling"], "q_shoes_training": ["lacing", "new_tight"], "q_warning_signs": ["none"]}


def patient(pid: str, birth: str = "1981-03-02", gender: str = "male") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender}


def intake(pid: str, answers: dict[str, list[str]], authored: str = "2026-12-01T09:00:00Z") -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse", "id": f"qr-{uuid.uuid4().hex[:8]}", "status": "completed",
        "questionnaire": FORM_URL, "subject": {"reference": f"Patient/{pid}"}, "authored": authored,
        "item": [{"linkId": q, "answer": [{"valueCoding": {"system": FORM_URL, "code": f"{q}|{o}"}} for o in opts]}
                 for q, opts in answers.items()],
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def prefetch(pid: str, answers: dict[str, list[str]] | None, **extra: Any) -> dict[str, Any]:
    out = {"patient": patient(pid), "intake": bundle(*([intake(pid, answers)] if answers else [])),
           "conditions": bundle(), "observations": bundle()}
    out.update(extra)
    return out


def hook_request(hook: str, pid: str, answers: dict[str, list[str]] | None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()),
                            "context": {"userId": "Practitioner/dr-1", "patientId": pid}}
    if answers is not None:
        body["prefetch"] = prefetch(pid, answers)
    body.update(fields)
    return body


def draft_order(oid: str, cpt: str, priority: str = "routine") -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "id": oid, "status": "draft", "intent": "order", "priority": priority,
            "code": {"coding": [{"system": CPT, "code": cpt}]}, "subject": {"reference": "Patient/p"}}


def http(url: str, *, token: str = "", body: Any = None, method: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            raw, status = reply.read(), reply.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    text = raw.decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def checked(status: int, body: Any, schema: str = "response") -> Any:
    """Every 200 answer must match the spec's schema; every refusal must be an OperationOutcome."""
    if status == 200:
        assert problems(schema, body) == [], problems(schema, body)
    else:
        assert body["resourceType"] == "OperationOutcome", body
    return body


class QuietServer(ThreadingHTTPServer):
    """The gateway stops reading sibling queries once one fails (412): no traceback for that."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class FhirStub:
    """A tiny FHIR server holding one patient's chart; remembers what it was asked and with which token."""

    def __init__(self, pid: str, answers: dict[str, list[str]]) -> None:
        self.pid = pid
        self.resources = {"Patient": patient(pid), "QuestionnaireResponse": bundle(intake(pid, answers)),
                          "Condition": bundle({"resourceType": "Condition", "id": "c1",
                                               "clinicalStatus": {"coding": [{"code": "active"}]},
                                               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                                    "code": "E11.40"}]}}),
                          "Observation": bundle()}
        self.seen: list[tuple[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stub.seen.append((self.path, self.headers.get("Authorization", "")))
                path = self.path.lstrip("/").removeprefix("fhir/")
                kind = path.split("?")[0].split("/")[0]
                found = stub.resources.get(kind)
                if kind == "Patient" and path != f"Patient/{stub.pid}":
                    found = None
                body = json.dumps(found or {"resourceType": "OperationOutcome", "issue": []}).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/fhir"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

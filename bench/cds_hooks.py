"""A CDS Hooks patient-view call end to end, beside the bare Assess of the same run.

EHR -> gateway (HTTP, JWT verified against the EHR's JWKS, jti stored in Redis) -> Assess over
gRPC -> cards (with the assessment and card records written to Redis and the call audited).
The client keeps one HTTP connection open, as an EHR would, and signs a fresh ES384 JWT per
call (the EHR's own cost, about 1 ms of this client's CPU, is inside the figure). The spec asks
for an answer within about 500 ms; the interesting ratio is to the Assess it wraps.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

from bench.harness import Collector, Probe, Rounds
from bench.report import figure
from services.common.suite import LocalSuite
from services.gateway.cds_hooks.devjwt import DevIssuer, serve_jwks

NAME = "cds.patient_view"
GOAL_MS = 500.0  # CDS Hooks: "respond within about 500 ms"
# The examples' cauda equina picture as a tablet intake (the card is critical, with suggestions).
ANSWERS = {"q_location": ["saddle", "whole_foot"], "q_sides": ["both_same"],
           "q_sensations": ["back_pain", "leg_pain"], "q_warning_signs": ["bladder_bowel", "weakness"]}


def hook_body(pid: str) -> bytes:
    from services.intake.form import FORM_URL

    qr = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-12-01T09:00:00Z",
          "item": [{"linkId": q, "answer": [{"valueCoding": {"system": FORM_URL, "code": f"{q}|{o}"}} for o in opts]}
                   for q, opts in ANSWERS.items()]}
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    body: dict[str, Any] = {
        "hook": "patient-view", "hookInstance": "bench", "context": {"userId": "Practitioner/bench", "patientId": pid},
        "prefetch": {"patient": {"resourceType": "Patient", "id": pid, "birthDate": "1981-03-02", "gender": "male"},
                     "intake": {**empty, "entry": [{"resource": qr}]}, "conditions": empty, "observations": empty},
    }
    return json.dumps(body).encode()


def probe(suite: LocalSuite) -> Probe:
    """Starts the gateway and a JWKS for a bench EHR; the probe makes one patient-view call."""
    if "gateway" not in suite.processes:  # make bench starts it with the suite
        suite.start_gateway()
    issuer = DevIssuer.generate("pending")
    server = serve_jwks(issuer)
    issuer.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    suite.trust_cds_issuer(issuer.issuer, issuer.jwks_url)
    path = "/cds-services/footcds-patient-view"
    audience = suite.gateway_url + path
    body = hook_body("bench-patient")
    state: dict[str, http.client.HTTPConnection] = {}

    def post(headers: dict[str, str]) -> tuple[int, bytes]:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = http.client.HTTPConnection("127.0.0.1", suite.gateway_port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=headers)
            reply = conn.getresponse()
            return reply.status, reply.read()
        except (OSError, http.client.HTTPException):
            state.pop("conn").close()
            raise

    def call() -> object:
        headers = {"Authorization": f"Bearer {issuer.token(audience)}", "Content-Type": "application/json"}
        try:
            status, data = post(headers)
        except (OSError, http.client.HTTPException):
            # uvicorn closes an idle keep-alive connection (5 s) between rounds: reconnect once,
            # as an EHR's HTTP client would (the token was never accepted, so it can be reused).
            status, data = post(headers)
        if status != 200:
            raise RuntimeError(f"patient-view answered {status}: {data[:200]!r}")
        return data

    return Probe(NAME, call, weight=0.5)


def signing_ms(repeats: int = 200) -> float:
    """The client-side ES384 signing per call (inside the figure; an EHR pays it too)."""
    issuer = DevIssuer.generate("http://bench")
    began = time.perf_counter()
    for _ in range(repeats):
        issuer.token("http://bench/aud")
    return (time.perf_counter() - began) * 1000 / repeats


def figures(rounds: Rounds, out: Collector, assess_name: str) -> None:
    beside: Callable[[str], Any] = out.get
    note = (f"EHR -> gateway (JWT, prefetch) -> Assess ({assess_name}) -> cards; includes "
            f"{signing_ms():.2f} ms of client-side JWT signing per call")
    p50 = out.add(figure(f"{NAME}.p50", rounds.p50_of(NAME), "ms", ceiling=beside(f"{assess_name}.p50"),
                         goal=("<=", GOAL_MS), note=note))
    p50.extra["vs_assess"] = assess_name
    out.add(figure(f"{NAME}.p99", rounds.p99_of(NAME), "ms", ceiling=beside(f"{assess_name}.p99"),
                   goal=("<=", GOAL_MS)))

"""CDS Hooks 2.0 against the real gateway and suite: discovery, patient-view, order-select,
feedback into the audit trail and metrics, and the EHR JWT checks. Every 200 answer is checked
against the JSON Schemas written from the spec (services/gateway/cds_hooks/schemas)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from fhir.resources.R4B.servicerequest import ServiceRequest

from devtools.suite import ROOT, LocalSuite, free_port
from services.gateway.cds_hooks.devjwt import DevIssuer, serve_jwks
from tests.cds_hooks_support import (
    CAUDA_EQUINA,
    TARSAL_TUNNEL,
    TIGHT_LACES,
    FhirStub,
    checked,
    draft_order,
    hook_request,
    http,
)

pytestmark = pytest.mark.e2e
PV, OS = "footcds-patient-view", "footcds-order-select"


@pytest.fixture(scope="module")
def ehr(suite: LocalSuite) -> Iterator[DevIssuer]:
    """A trusted EHR: its own key pair, its JWKS served over HTTP, its issuer in the gateway's list."""
    issuer = DevIssuer.generate("pending")
    server = serve_jwks(issuer)
    issuer.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    suite.trust_cds_issuer(issuer.issuer, issuer.jwks_url)
    yield issuer
    server.shutdown()


def trail(suite: LocalSuite, rpc: str) -> list[dict[str, str]]:
    """The newest audit records of one operation, straight from the stream."""
    client = redis.Redis.from_url(suite.redis_url, decode_responses=True)
    try:
        # redis-py types sync replies as Awaitable[Any] | Any (ResponseT, shared with its asyncio client)
        records = cast(list[tuple[str, dict[str, str]]], client.xrevrange("footcds:audit", count=500))
        return [fields for _, fields in records if fields["rpc"] == rpc]
    finally:
        client.close()


def call(gateway: str, ehr: DevIssuer, service: str, body: dict[str, Any], valid: bool = True) -> tuple[int, Any]:
    """A hook call as the EHR makes it (a fresh JWT for this URL); the answer is schema-checked."""
    url = f"{gateway}/cds-services/{service}"
    if valid:
        assert checked(200, body, "request") is body  # what the tests send is a valid hook request too
    status, reply = http(url, token=ehr.token(url), body=body)
    return status, checked(status, reply)


def test_discovery_lists_both_services_with_prefetch(gateway: str) -> None:
    status, body = http(f"{gateway}/cds-services")
    checked(status, body, "discovery")
    services = {s["id"]: s for s in body["services"]}
    assert services[PV]["hook"] == "patient-view" and services[OS]["hook"] == "order-select"
    for service in services.values():
        assert service["title"] and service["description"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert "QuestionnaireResponse?" in service["prefetch"]["intake"]
        assert {"conditions", "observations"} <= set(service["prefetch"])


def test_red_flag_patient_gets_a_critical_card_with_stat_mri_and_a_clinician_link(
    gateway: str, ehr: DevIssuer, staff_token: str, suite: LocalSuite
) -> None:
    status, body = call(gateway, ehr, PV, hook_request("patient-view", "p-ces", CAUDA_EQUINA))
    assert status == 200, body
    (card,) = body["cards"]
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("EMERGENCY") and len(card["summary"]) < 140
    assert "Cauda equina" in card["detail"] and "| Condition | Probability |" in card["detail"]
    assert card["source"]["topic"]["code"] == "assessment-emergency"
    assert card["selectionBehavior"] == "any" and card["overrideReasons"]
    first = card["suggestions"][0]
    assert first["isRecommended"] and first["actions"][0]["type"] == "create"
    for suggestion in card["suggestions"]:
        resource = ServiceRequest.model_validate(suggestion["actions"][0]["resource"])  # valid FHIR R4B
        assert (resource.intent, resource.status) == ("proposal", "draft")
        assert resource.subject.reference == "Patient/p-ces"
    mri = ServiceRequest.model_validate(first["actions"][0]["resource"])
    assert mri.code is not None and mri.code.coding, "the suggested ServiceRequest has no code"
    assert mri.priority == "stat" and mri.code.coding[0].code == "72148"  # MRI lumbar spine (CPT)
    (link,) = card["links"]
    assert link["type"] == "absolute" and "/staff/assessments/" in link["url"]
    assert http(link["url"])[0] == 401  # the clinician view needs a staff credential
    status, full = http(link["url"], token=staff_token)
    assert status == 200 and full["assessment"]["triage"]["level"] == "emergency"
    assert full["assessment"]["differential"][0]["condition"] == "cauda_equina_syndrome" and full["disclaimer"]
    browser = {"Accept": "text/html", "Authorization": f"Bearer {staff_token}"}
    page = urllib.request.Request(link["url"], headers=browser)
    with urllib.request.urlopen(page, timeout=30) as reply:  # what a clinician's browser gets
        html = reply.read().decode()
    assert reply.headers["Content-Type"].startswith("text/html") and "Triage: EMERGENCY" in html
    assert "Cauda equina syndrome" in html and "Red flags" in html and "decision support" in html.lower()
    (read, *_) = trail(suite, "CDSHooks/staff/assessment")  # the staff read is audited
    assert read["client_id"] == "staff-desk-1" and read["triage"] == "1"


def test_routine_patient_gets_an_info_card_leading_with_the_triage(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, PV, hook_request("patient-view", "p-laces", TIGHT_LACES))
    assert status == 200, body
    (card,) = body["cards"]
    assert card["indicator"] == "info" and card["summary"].startswith("Self-care")
    assert "footwear" in card["detail"].lower()


def test_a_patient_without_numbness_data_gets_no_card(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, PV, hook_request("patient-view", "p-none", {}))
    assert status == 200 and body == {"cards": []}


def test_missing_prefetch_without_fhir_server_is_412_naming_the_keys(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, PV, hook_request("patient-view", "p-x", None))
    assert status == 412
    named = {e for issue in body["issue"] for e in issue["expression"]}
    assert named == {"prefetch.patient", "prefetch.intake", "prefetch.conditions", "prefetch.observations"}


def test_missing_prefetch_is_read_from_the_fhir_server_with_the_ehr_token(gateway: str, ehr: DevIssuer) -> None:
    stub = FhirStub("p-stub", TARSAL_TUNNEL)
    try:
        access = f"ehr-access-{uuid.uuid4().hex[:6]}"
        body = hook_request("patient-view", "p-stub", None, fhirServer=stub.url, fhirAuthorization={
            "access_token": access, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
            "subject": "footcds"})
        status, reply = call(gateway, ehr, PV, body)
    finally:
        stub.close()
    assert status == 200, reply
    (card,) = reply["cards"]
    assert "Tarsal tunnel" in card["summary"] and card["indicator"] == "info"
    assert "Nerve conduction" in card["suggestions"][0]["label"]
    paths = sorted(path.split("?")[0] for path, _ in stub.seen)
    assert paths == ["/fhir/Condition", "/fhir/Observation", "/fhir/Patient/p-stub", "/fhir/QuestionnaireResponse"]
    assert {auth for _, auth in stub.seen} == {f"Bearer {access}"}


def test_fhir_server_errors_are_named(gateway: str, ehr: DevIssuer) -> None:
    stub = FhirStub("someone-else", TARSAL_TUNNEL)
    try:
        status, reply = call(gateway, ehr, PV, hook_request("patient-view", "p-unknown", None, fhirServer=stub.url))
    finally:
        stub.close()
    assert status == 412 and reply["issue"][0]["expression"] == ["prefetch.patient"]


def test_a_malformed_hook_request_is_400_naming_the_field(gateway: str, ehr: DevIssuer) -> None:
    body = hook_request("patient-view", "p", TIGHT_LACES)
    del body["context"]["patientId"]
    status, reply = call(gateway, ehr, PV, body, valid=False)
    assert status == 400 and "patientId" in reply["issue"][0]["diagnostics"]
    assert reply["issue"][0]["expression"] == ["context"]
    bad_answer = hook_request("patient-view", "p", {"q_not_a_question": ["x"]})
    status, reply = call(gateway, ehr, PV, bad_answer)
    assert status == 400 and "q_not_a_question" in json.dumps(reply)


# --- order-select -----------------------------------------------------------------------


def order_select(pid: str, answers: dict[str, list[str]], *orders: dict[str, Any]) -> dict[str, Any]:
    body = hook_request("order-select", pid, answers)
    body["context"].update(selections=[f"ServiceRequest/{o['id']}" for o in orders],
                           draftOrders={"resourceType": "Bundle", "type": "collection",
                                        "entry": [{"resource": o} for o in orders]})
    return body


def test_order_select_suggests_ncs_before_a_foot_mri_for_tarsal_tunnel(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, OS, order_select("p-tts", TARSAL_TUNNEL, draft_order("mri1", "73718")))
    assert status == 200, body
    (card,) = body["cards"]
    assert card["indicator"] == "warning" and "before MRI foot" in card["summary"]
    (suggestion,) = card["suggestions"]
    delete, create = suggestion["actions"]
    assert (delete["type"], delete["resourceId"]) == ("delete", "ServiceRequest/mri1")
    ncs = ServiceRequest.model_validate(create["resource"])
    assert ncs.code is not None and ncs.code.coding, "the suggested ServiceRequest has no code"
    assert create["type"] == "create" and ncs.intent == "proposal" and (ncs.code.coding[0].code or "").startswith("959")


def test_order_select_confirms_the_right_test(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, OS, order_select("p-tts2", TARSAL_TUNNEL, draft_order("ncs1", "95907")))
    (card,) = body["cards"]
    assert status == 200 and card["indicator"] == "info" and "suggestions" not in card
    assert card["summary"].startswith("Nerve conduction")


def test_order_select_cauda_equina_wants_a_lumbar_mri_now(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, OS, order_select("p-ces2", CAUDA_EQUINA, draft_order("emg1", "95886"),
                                                       draft_order("mri2", "72148", "routine")))
    assert status == 200, body
    by_kind = {c["source"]["topic"]["code"]: c for c in body["cards"]}
    assert set(by_kind) == {"order-better-test", "order-priority"}
    assert all(c["indicator"] == "critical" and c["summary"].startswith("EMERGENCY") for c in body["cards"])
    replace = by_kind["order-better-test"]["suggestions"][0]["actions"]
    assert replace[0]["resourceId"] == "ServiceRequest/emg1"
    assert ServiceRequest.model_validate(replace[1]["resource"]).priority == "stat"
    (update,) = by_kind["order-priority"]["suggestions"][0]["actions"]
    assert update["type"] == "update" and update["resource"]["id"] == "mri2"
    assert ServiceRequest.model_validate(update["resource"]).priority == "stat"


def test_order_select_ignores_orders_it_has_no_opinion_on(gateway: str, ehr: DevIssuer) -> None:
    status, body = call(gateway, ehr, OS, order_select("p-b12", TARSAL_TUNNEL, draft_order("b12", "82607")))
    assert status == 200 and body == {"cards": []}


# --- feedback, audit, metrics ---------------------------------------------------------------


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def feedback(gateway: str, ehr: DevIssuer, service: str, items: list[dict[str, Any]]) -> tuple[int, Any]:
    url = f"{gateway}/cds-services/{service}/feedback"
    return http(url, token=ehr.token(url), body={"feedback": items})


def counter(gateway: str, kind: str, outcome: str) -> float:
    _, text = http(f"{gateway}/metrics")
    prefix = "footcds_cds_feedback_total{"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix) and f'card_kind="{kind}"' in line and f'outcome="{outcome}"' in line)


def test_feedback_goes_to_the_audit_trail_and_metrics(gateway: str, ehr: DevIssuer, suite: LocalSuite) -> None:
    _, body = call(gateway, ehr, PV, hook_request("patient-view", "p-fb", CAUDA_EQUINA))
    (card,) = body["cards"]
    kind = "assessment-emergency"
    before = counter(gateway, kind, "overridden"), counter(gateway, kind, "accepted")
    accepted = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": now(),
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
    overridden = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now(),
                  "overrideReason": {"reason": card["overrideReasons"][1], "userComment": "seen in ED yesterday"}}
    status, reply = feedback(gateway, ehr, PV, [accepted, overridden])
    assert status == 200, reply
    after = counter(gateway, kind, "overridden"), counter(gateway, kind, "accepted")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    argv = [sys.executable, "-m", "services.cli.main", "audit", "--json", "--since", "5m", "--critical-overrides",
            "--address", suite.address("encounter")]
    run = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60, env=suite.client_env())
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    mine = [r for r in records if r["client_id"] == f"ehr:{ehr.issuer}"]
    assert mine and mine[0]["code"] == "OVERRIDDEN/clinical-judgement" and mine[0]["triage"] == "emergency"
    assert mine[0]["rpc"] == f"CDSHooks/{PV}/feedback" and "cauda_equina_syndrome" in mine[0]["leading_conditions"]
    assert all(r["code"].startswith("OVERRIDDEN") for r in records)  # accepted cards are not listed
    assert "seen in ED" not in run.stdout  # free text never reaches the trail
    # The feedback joins the suite's own Assess record by the hashed opaque patient reference.
    assessed = {r["patient_ref_sha256"] for r in trail(suite, "/footcds.v1.EncounterService/Assess")}
    assert mine[0]["patient_ref_sha256"] in assessed


def test_bad_feedback_is_refused_naming_the_entry(gateway: str, ehr: DevIssuer) -> None:
    status, reply = feedback(gateway, ehr, PV, [{"card": str(uuid.uuid4()), "outcome": "accepted",
                                                 "outcomeTimestamp": now()}])
    assert status == 404 and reply["issue"][0]["expression"] == ["feedback[0].card"]
    status, reply = feedback(gateway, ehr, PV, [{"card": str(uuid.uuid4()), "outcome": "maybe",
                                                 "outcomeTimestamp": "yesterday"}])
    assert status == 400
    named = {e for i in reply["issue"] for e in i["expression"]}
    assert named == {"feedback[0].outcome", "feedback[0].outcomeTimestamp"}
    _, body = call(gateway, ehr, PV, hook_request("patient-view", "p-fb2", TIGHT_LACES))
    status, reply = feedback(gateway, ehr, PV, [{"card": body["cards"][0]["uuid"], "outcome": "accepted",
                                                 "outcomeTimestamp": now(), "acceptedSuggestions": [{"id": "nope"}]}])
    assert status == 400 and "nope" in reply["issue"][0]["diagnostics"]


# --- the EHR's JWT ----------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_jwts_are_refused_unless_signed_current_fresh_and_for_this_url(gateway: str, ehr: DevIssuer) -> None:
    url = f"{gateway}/cds-services/{PV}"
    body = hook_request("patient-view", "p-jwt", TIGHT_LACES)
    claims = {"iss": ehr.issuer, "aud": url, "iat": int(time.time()), "exp": int(time.time()) + 300,
              "jti": uuid.uuid4().hex}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    # The classic confusion attack: HMAC "signed" with the public JWKS as the shared secret.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': ehr.kid})}.{_b64(claims)}"
    mac = hmac.new(json.dumps(ehr.jwks()).encode(), signing_input.encode(), hashlib.sha256).digest()
    hs256 = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    impostor = DevIssuer.generate(ehr.issuer)
    impostor.kid = ehr.kid  # same issuer and key id, a different private key
    refused = {
        "no token": "",
        "unsigned": unsigned,
        "HS256": hs256,
        "expired": ehr.token(url, iat=time.time() - 400, lifetime=300),
        "wrong audience": ehr.token(f"{gateway}/cds-services/{OS}"),
        "untrusted issuer": DevIssuer.generate("https://ehr.example.org").token(url),
        "forged signature": impostor.token(url),
        "too long-lived": ehr.token(url, lifetime=3600),
        "issued in the future": ehr.token(url, iat=time.time() + 600),
    }
    for why, token in refused.items():
        status, reply = http(url, token=token, body=body)
        assert status == 401, (why, reply)
        assert reply["resourceType"] == "OperationOutcome" and reply["issue"][0]["code"] == "login", why
    token = ehr.token(url)
    assert http(url, token=token, body=body)[0] == 200
    status, reply = http(url, token=token, body=body)  # the same jti again: a replay
    assert status == 401 and "replay" in reply["issue"][0]["diagnostics"]
    feedback_url = f"{url}/feedback"
    assert http(feedback_url, token=ehr.token(url), body={"feedback": []})[0] == 401  # aud is the URL called


def test_the_dev_command_signs_tokens_a_trusted_gateway_accepts_until_the_issuer_is_dropped(
    gateway: str, suite: LocalSuite, tmp_path: Path
) -> None:
    """`devjwt serve` + `devjwt token` is the README's curl path; dropping the issuer from the
    trusted-issuers file locks it out on the next call, without a restart."""
    port = free_port()
    cli = [sys.executable, "-m", "services.gateway.cds_hooks.devjwt", "--key", str(tmp_path / "k.pem"),
           "--port", str(port)]
    (issuer, jwks_url), = json.loads(subprocess.run([*cli, "issuers"], capture_output=True, text=True, cwd=ROOT,
                                                    check=True, timeout=30).stdout).items()
    server = subprocess.Popen([*cli, "serve"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert "JWKS at" in (server.stdout.readline() if server.stdout else "")
        suite.trust_cds_issuer(issuer, jwks_url)
        url = f"{gateway}/cds-services/{PV}"
        body = hook_request("patient-view", "p-dev", TIGHT_LACES)

        def token() -> str:
            return subprocess.run([*cli, "token", "--aud", url], capture_output=True, text=True, cwd=ROOT,
                                  check=True, timeout=30).stdout.strip()

        assert http(url, token=token(), body=body)[0] == 200
        trusted = json.loads(suite.cds_issuers_file.read_text())
        del trusted[issuer]
        suite.cds_issuers_file.write_text(json.dumps(trusted))
        status, reply = http(url, token=token(), body=body)
        assert status == 401 and "not a trusted EHR" in reply["issue"][0]["diagnostics"]
    finally:
        server.terminate()
        server.wait(10)

"""The HTTP gateway against the real suite: health, credentials (device tokens, scopes,
revocation) and FHIR OperationOutcome errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from devtools.suite import ROOT, LocalSuite

pytestmark = pytest.mark.e2e


def http(url: str, *, token: str = "", body: Any = None, method: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    request.add_header("Content-Type", "application/fhir+json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            raw, status, hdrs = reply.read(), reply.status, reply.headers
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, exc.headers
    text = raw.decode()
    try:
        return status, hdrs, json.loads(text)
    except json.JSONDecodeError:
        return status, hdrs, text


def test_healthz_reports_the_suite_services(gateway: str) -> None:
    status, headers, body = http(f"{gateway}/healthz")
    assert status == 200, body
    assert body["services"] == {"intake": True, "differential": True, "encounter": True} and body["redis"]
    assert headers["Cache-Control"] == "no-store"


def test_no_credentials_is_401_with_an_operation_outcome(gateway: str) -> None:
    status, headers, body = http(f"{gateway}/fhir/Questionnaire/foot-numbness-intake")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"
    status, _, body = http(f"{gateway}/fhir/Questionnaire/foot-numbness-intake", token="not-a-token")
    assert status == 401


def test_a_staff_token_is_not_a_tablet(gateway: str, staff_token: str) -> None:
    status, _, body = http(f"{gateway}/fhir/Questionnaire/foot-numbness-intake", token=staff_token)
    assert status == 403 and "'tablet'" in body["issue"][0]["diagnostics"]


def test_a_tablet_token_reads_the_base_questionnaire(gateway: str, tablet_token: str) -> None:
    status, _, body = http(f"{gateway}/fhir/Questionnaire/foot-numbness-intake", token=tablet_token)
    assert status == 200, body
    assert body["resourceType"] == "Questionnaire" and body["url"].startswith("urn:footcds:questionnaire")
    assert any(item["linkId"] == "q_location" for item in body["item"])


def test_a_revoked_tablet_is_refused_at_once(gateway: str, suite: LocalSuite) -> None:
    token = suite.issue_token("tablet-lost", ["tablet"])
    url = f"{gateway}/fhir/Questionnaire/foot-numbness-intake"
    assert http(url, token=token)[0] == 200
    revoked = subprocess.run(
        [sys.executable, "-m", "services.platform.auth", "revoke", "tablet-lost", "--file", str(suite.tokens_file)],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )
    assert revoked.returncode == 0 and "revoked 1" in revoked.stdout, revoked.stderr
    deadline = time.monotonic() + 5
    while http(url, token=token)[0] != 401:  # the gateway re-reads the tokens file
        assert time.monotonic() < deadline, "a revoked tablet token still works"
        time.sleep(0.2)
    assert http(url, token=suite.token)[0] == 200  # every other client is untouched


def test_a_suite_service_down_is_503_not_a_crash(suite: LocalSuite, tablet_token: str) -> None:
    """Failure injection: a second gateway whose differential address has nothing behind it."""
    import os

    from devtools.suite import free_port

    port, dead = free_port(), free_port()
    env = {**suite.env(), "FOOTCDS_GATEWAY_PORT": str(port), "FOOTCDS_DIFFERENTIAL_ADDR": f"127.0.0.1:{dead}",
           "FOOTCDS_GATEWAY_CALL_TIMEOUT_SECONDS": "2"}
    log = open(suite.log_dir / "gateway-dead-differential.log", "ab")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = http(f"{base}/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the gateway did not start"
                time.sleep(0.2)
        assert status == 503 and body["services"]["differential"] is False and body["services"]["intake"] is True
        start = {"resourceType": "QuestionnaireResponse", "status": "in-progress"}
        status, _, first = http(f"{base}/fhir/Questionnaire/$next-question", token=tablet_token, body=start)
        assert status == 200  # the opening question needs no ranking
        first["item"] = [{"linkId": "q_location", "answer": [{"valueCoding": {
            "system": "urn:footcds:questionnaire:foot-numbness-intake", "code": "q_location|heel"}}]}]
        status, _, outcome = http(f"{base}/fhir/Questionnaire/$next-question", token=tablet_token, body=first)
        assert status in (503, 504), outcome
        assert outcome["resourceType"] == "OperationOutcome" and "NextQuestion" in outcome["issue"][0]["diagnostics"]
        assert outcome["issue"][0]["code"] in ("transient", "timeout")
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)
        log.close()

"""The audit trail: a record per Assess, screening call and result read, readable by admins.

Each test works as a client of its own (a fresh token), so it finds exactly its records.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid

import grpc
import pytest
import redis
from footcds.v1 import audit_pb2, audit_pb2_grpc, common_pb2, encounter_pb2, encounter_pb2_grpc

from devtools.suite import LocalSuite
from services.platform.audit import AuditLog
from services.platform.auth import ASSESS, RESULTS_READ, SCREEN
from services.platform.config import Settings
from tests.conftest import ROOT, example_request

pytestmark = pytest.mark.e2e
ASSESS_RPC = "/footcds.v1.EncounterService/Assess"


def records_of(suite: LocalSuite, client_id: str) -> list[audit_pb2.AuditRecord]:
    with suite.channel("encounter") as channel:  # the developer token has "admin"
        response = audit_pb2_grpc.AuditServiceStub(channel).ListAuditRecords(
            audit_pb2.ListAuditRecordsRequest(client_id=client_id, limit=100), timeout=5
        )
    assert response.kb_version and "decision support" in response.disclaimer
    return list(response.records)


def test_every_assess_is_recorded_with_hashes_triage_and_leading_conditions(suite: LocalSuite) -> None:
    client = f"ehr-{uuid.uuid4().hex[:8]}"
    token = suite.issue_token(client, [ASSESS])
    request = example_request("cauda_equina_emergency")
    request.patient.patient_ref = "opaque-4711"
    bad = example_request("tight_laces_runner")
    bad.patient.age_years = -3
    started = time.time()
    with suite.channel("encounter", token=token) as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        answer = stub.Assess(request, timeout=15)
        with pytest.raises(grpc.RpcError):
            stub.Assess(bad, timeout=15)

    failed, ok = records_of(suite, client)  # newest first
    assert (ok.rpc, ok.code, ok.client_id, ok.auth) == (ASSESS_RPC, "OK", client, "token")
    assert ok.request_sha256 == hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
    assert ok.patient_ref_sha256 == hashlib.sha256(b"opaque-4711").hexdigest()
    assert ok.answered_kb_version == answer.kb_version
    assert ok.triage == common_pb2.TRIAGE_LEVEL_EMERGENCY
    assert list(ok.leading_conditions) == [c.condition_id for c in answer.assessment.differential.conditions[:3]]
    assert started - 1 <= ok.time.ToMilliseconds() / 1000 <= time.time() + 1
    assert (failed.code, failed.triage, list(failed.leading_conditions)) == ("INVALID_ARGUMENT", 0, [])
    # A refused call has no answer to name the KB: the service passed its version to the interceptor.
    assert failed.answered_kb_version == answer.kb_version
    assert failed.request_sha256 == hashlib.sha256(bad.SerializeToString(deterministic=True)).hexdigest()
    assert failed.record_id > ok.record_id


def test_screening_submissions_and_result_reads_are_recorded(suite: LocalSuite) -> None:
    client = f"team-{uuid.uuid4().hex[:8]}"
    token = suite.issue_token(client, [SCREEN, RESULTS_READ])
    case = example_request("tight_laces_runner")
    roster = encounter_pb2.SubmitScreeningRequest(
        idempotency_key=f"audit-{uuid.uuid4().hex}", team_label="audit",
        athletes=[encounter_pb2.RosterEntry(athlete_ref=f"a{i}", row_number=i + 1, patient=case.patient,
                                            evidence=case.evidence) for i in range(2)],
    )
    with suite.channel("encounter", token=token) as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        accepted = stub.SubmitScreening(roster, timeout=10)
        ref = encounter_pb2.GetScreeningResultsRequest(screening_id=accepted.screening_id)
        for _ in stub.WatchScreening(encounter_pb2.WatchScreeningRequest(screening_id=accepted.screening_id),
                                     timeout=30):
            pass
        results = list(stub.GetScreeningResults(ref, timeout=10))
    by_rpc = {r.rpc.rsplit("/", 1)[1]: r for r in records_of(suite, client)}
    assert set(by_rpc) == {"SubmitScreening", "WatchScreening", "GetScreeningResults"}
    assert all(r.screening_id == accepted.screening_id and r.code == "OK" for r in by_rpc.values())
    assert by_rpc["SubmitScreening"].count == 2
    assert by_rpc["GetScreeningResults"].count == len(results) == 2


def test_footcds_audit_prints_the_trail_for_admins_only(suite: LocalSuite) -> None:
    client = f"cli-{uuid.uuid4().hex[:8]}"
    with suite.channel("encounter", token=suite.issue_token(client, [ASSESS])) as channel:
        encounter_pb2_grpc.EncounterServiceStub(channel).Assess(example_request("mortons_neuroma"), timeout=15)
    argv = [sys.executable, "-m", "services.cli.main", "audit", "--json", "--since", "5m", "--client", client,
            "--address", suite.address("encounter")]
    run = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60, env=suite.client_env())
    assert run.returncode == 0, run.stderr
    (line,) = run.stdout.splitlines()
    record = json.loads(line)
    assert (record["client_id"], record["rpc"], record["code"]) == (client, ASSESS_RPC, "OK")
    assert record["leading_conditions"][0] == "mortons_neuroma"
    assert "patient" not in line.replace("patient_ref_sha256", "")  # hashes, never patient fields

    env = {**suite.client_env(), "FOOTCDS_TOKEN": suite.issue_token("not-admin", [ASSESS, RESULTS_READ])}
    denied = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert denied.returncode == 4 and "PERMISSION_DENIED" in denied.stderr
    bad_since = subprocess.run([*argv[:4], "--since", "yesterday-ish", "--address", suite.address("encounter")],
                               capture_output=True, text=True, cwd=ROOT, timeout=60, env=suite.client_env())
    assert bad_since.returncode == 2 and "--since" in bad_since.stderr


def test_a_since_outside_the_calendar_is_invalid_argument_naming_since(suite: LocalSuite) -> None:
    request = audit_pb2.ListAuditRecordsRequest()
    request.since.seconds = -(2**63)  # found by tests/test_fuzz.py: was UNKNOWN
    with suite.channel("encounter") as channel, pytest.raises(grpc.RpcError) as raised:
        audit_pb2_grpc.AuditServiceStub(channel).ListAuditRecords(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "since" in (raised.value.details() or "")


def test_retention_keeps_the_newest_records_and_drops_old_ones(suite: LocalSuite) -> None:
    key = f"test:audit:{uuid.uuid4().hex}"
    by_count = AuditLog(Settings(redis_url=suite.redis_url, audit_stream=key, audit_max_records=100,
                                 audit_retention_days=0))
    ids = [by_count.append({"rpc": "x", "n": str(i)}) for i in range(150)]
    client = redis.Redis.from_url(suite.redis_url, decode_responses=True)
    assert client.xlen(key) == 100
    kept, truncated = by_count.list(limit=1000)
    assert [record_id for record_id, _ in kept] == ids[:-101:-1] and not truncated  # newest first

    aged = AuditLog(Settings(redis_url=suite.redis_url, audit_stream=key, audit_retention_days=0.5 / 86400))
    aged.trim_every_s = 0
    time.sleep(0.6)
    newest = aged.append({"rpc": "y"})
    assert [record_id for record_id, _ in aged.list()[0]] == [newest]
    client.delete(key)

"""The core path against real processes: Redis, five gRPC servers, a Celery worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import grpc
import pytest
from footcds.v1 import common_pb2, encounter_pb2, encounter_pb2_grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from devtools.suite import SERVICES, LocalSuite
from services.cli.render import assessment_json
from services.pipeline.local import assess_local
from services.platform.errors import violations_of
from tests.conftest import EXAMPLES, ROOT, example_request

pytestmark = pytest.mark.e2e

FULL_NAMES = {
    "intake": "footcds.v1.IntakeService",
    "differential": "footcds.v1.DifferentialService",
    "workup": "footcds.v1.WorkupService",
    "treatment": "footcds.v1.TreatmentService",
    "encounter": "footcds.v1.EncounterService",
}


def test_assess_returns_a_triaged_ranked_assessment(encounter: encounter_pb2_grpc.EncounterServiceStub) -> None:
    response = encounter.Assess(example_request("tight_laces_runner"), timeout=15)
    a = response.assessment
    assert a.triage.level == common_pb2.TRIAGE_LEVEL_SELF_CARE
    assert a.triage.reasons
    assert a.differential.conditions[0].condition_id == "footwear_compression"
    probs = [c.probability for c in a.differential.conditions]
    assert probs == sorted(probs, reverse=True)
    assert abs(sum(probs) - 1) < 1e-6
    assert a.tests and a.plan.items
    assert response.kb_version.startswith("kb-") and "decision support" in response.disclaimer


def test_the_answer_follows_the_evidence(encounter: encounter_pb2_grpc.EncounterServiceStub) -> None:
    laces = encounter.Assess(example_request("tight_laces_runner"), timeout=15).assessment
    ces = encounter.Assess(example_request("cauda_equina_emergency"), timeout=15).assessment
    assert ces.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY
    assert ces.differential.conditions[0].condition_id == "cauda_equina_syndrome"
    assert ces.triage.reasons[0].startswith("Red flag")
    assert laces.differential.conditions[0].condition_id != ces.differential.conditions[0].condition_id


@pytest.mark.parametrize("name", ["tight_laces_runner", "mortons_neuroma", "cauda_equina_emergency"])
def test_local_pipeline_agrees_with_the_suite(encounter: encounter_pb2_grpc.EncounterServiceStub, name: str) -> None:
    request = example_request(name)
    remote = encounter.Assess(request, timeout=15).assessment
    assert assessment_json(remote) == assessment_json(assess_local(request))


def test_cli_local_gives_the_same_ranking_as_the_suite(suite: LocalSuite) -> None:
    case = str(EXAMPLES / "mortons_neuroma.json")
    outputs = []
    for extra in (["--local"], ["--address", suite.address("encounter")]):
        run = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "assess", case, "--json", *extra],
            capture_output=True, text=True, cwd=ROOT, timeout=60, env=suite.client_env(),
        )
        assert run.returncode == 0, run.stderr
        outputs.append(json.loads(run.stdout))
    local, remote = outputs
    assert [c["condition"] for c in local["differential"]] == [c["condition"] for c in remote["differential"]]
    assert local == remote
    assert local["differential"][0]["condition"] == "mortons_neuroma"
    assert set(local) >= {"triage", "differential", "tests", "plan", "kb_version", "disclaimer"}


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_reflection_answer(suite: LocalSuite, service: str) -> None:
    with grpc.insecure_channel(suite.address(service)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", FULL_NAMES[service]):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = list(reflection.ServerReflectionInfo(iter([
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=FULL_NAMES[service]),
        ]), timeout=5))
        listed = {s.name for s in replies[0].list_services_response.service}
        assert {FULL_NAMES[service], "grpc.health.v1.Health"} <= listed
        proto = descriptor_pb2.FileDescriptorProto.FromString(
            replies[1].file_descriptor_response.file_descriptor_proto[0]
        )
        assert proto.package == "footcds.v1"


def _bad(age: int | None = None, evidence: list[common_pb2.Evidence] | None = None) -> encounter_pb2.AssessRequest:
    request = example_request("tight_laces_runner")
    if age is not None:
        request.patient.age_years = age
    if evidence is not None:
        del request.evidence[:]
        request.evidence.extend(evidence)
    return request


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_bad(evidence=[common_pb2.Evidence(finding_id="loc_moon", state=common_pb2.EVIDENCE_STATE_PRESENT)]),
         "evidence[0].finding_id"),
        (_bad(age=-3), "patient.age_years"),
        (_bad(evidence=[common_pb2.Evidence(finding_id="loc_sole")]), "evidence[0].state"),
        (_bad(evidence=[]), "evidence"),
    ],
    ids=["unknown-finding", "age-minus-3", "missing-state", "empty-evidence"],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    encounter: encounter_pb2_grpc.EncounterServiceStub, request_: encounter_pb2.AssessRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        encounter.Assess(request_, timeout=15)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in violations_of(raised.value)]


def test_assess_without_a_worker_answers_within_its_deadline(tmp_path_factory: pytest.TempPathFactory) -> None:
    lonely = LocalSuite(log_dir=tmp_path_factory.mktemp("noworker"))
    try:
        lonely.start_redis()
        lonely.start_service("encounter")
        lonely.wait_service("encounter")
        with lonely.channel("encounter") as channel:
            stub = encounter_pb2_grpc.EncounterServiceStub(channel)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as raised:
                stub.Assess(example_request("tight_laces_runner"), timeout=1.5)
            elapsed = time.monotonic() - started
        assert raised.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
        assert elapsed < 3.0
    finally:
        lonely.stop()


def test_sigterm_stops_a_server_cleanly(tmp_path_factory: pytest.TempPathFactory) -> None:
    single = LocalSuite(log_dir=tmp_path_factory.mktemp("sigterm"))
    try:
        single.start_service("intake")
        single.wait_service("intake")
        code = single.stop_process("intake")
        assert code == 0
        assert "server stopped" in single.log_text("intake")
    finally:
        single.stop()

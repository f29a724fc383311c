"""The rules declared in the protos: the compiled checker agrees with protovalidate, and the
servers refuse a request that breaks one with INVALID_ARGUMENT naming the field.

protovalidate (PyPI, 1.x) is the reference implementation of the annotations; the server
uses services.platform.contract, which compiles the same annotations (README "Integrating
from an EHR" has why). On random messages of every request type both must find exactly the
same (field path, rule) pairs.
"""

from __future__ import annotations

from typing import cast

import grpc
import protovalidate
import pytest
from footcds.v1 import audit_pb2, common_pb2, encounter_pb2, encounter_pb2_grpc, intake_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings

from devtools.suite import LocalSuite
from services.platform import contract
from services.platform.contract_fast import message_valid
from services.platform.errors import violations_of
from tests.rpc_catalog import VALID, all_rpcs, valid
from tests.test_fuzz import messages

REQUEST_TYPES = sorted({rpc.request.full_name: rpc.request for rpc in all_rpcs()}.items())
REFERENCE = protovalidate.Validator()  # type: ignore[no-untyped-call]  # its __init__ lacks "-> None"


def reference(message: Message) -> set[tuple[str, str]]:
    return {(contract.field_path(v.proto.field), v.proto.rule_id) for v in REFERENCE.collect_violations(message)}


def compiled(message: Message) -> set[tuple[str, str]]:
    return {(path, rule_id) for path, rule_id, _ in contract.problems(message)}


@pytest.mark.parametrize("desc", [d for _, d in REQUEST_TYPES], ids=lambda d: d.name)
def test_the_compiled_rules_find_what_protovalidate_finds(desc: Descriptor) -> None:
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(message=messages(desc, depth=1, wide=3))
    def run(message: Message) -> None:
        try:
            expected = reference(message)
        except (OverflowError, ValueError):  # a Timestamp outside 0001-9999: protovalidate raises
            assert "timestamp.valid" in {rule for _, rule in compiled(message)}
            return
        assert compiled(message) == expected

    run()


def test_the_compiled_yes_no_agrees_with_the_rule_walk() -> None:
    """contract_fast may answer "valid" only when the walk finds nothing, and must say so for
    valid messages (else the speed-up is lost); random messages of every request type."""
    broken: set[str] = set()
    for _, desc in REQUEST_TYPES:

        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(message=messages(desc, depth=1, wide=3))
        def run(message: Message) -> None:
            contract.problems(message)  # registers the type
            walked = list(contract._check(message, message.DESCRIPTOR.full_name, ""))
            assert message_valid(message.DESCRIPTOR.full_name, contract._plan)(message) == (not walked)
            if walked:
                broken.add(message.DESCRIPTOR.full_name)

        run()
    assert len(broken) >= len(REQUEST_TYPES) // 2  # the broken side was exercised widely


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_catalog_requests_take_the_compiled_yes(name: str) -> None:
    request = VALID[name]("scr_" + "0" * 32 if "Screening" in name and name != "SubmitScreening" else "key")
    contract.problems(request)
    assert message_valid(request.DESCRIPTOR.full_name, contract._plan)(request)


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_valid_catalog_request_keeps_the_contract(name: str) -> None:
    request = VALID[name]("scr_" + "0" * 32 if "Screening" in name and name != "SubmitScreening" else "key")
    assert contract.problems(request) == [] and reference(request) == set()


# proto3 enums are open: the runtime takes any int32 (so can a client), while protoc's .pyi types
# an enum field as its enum class only; the casts below write numbers outside the enum on purpose.
CASES = [
    (common_pb2.PatientContext(sex=cast(common_pb2.Sex, 99)), "patient.sex", "enum.defined_only"),
    (common_pb2.PatientContext(setting=cast(common_pb2.ClinicalSetting, 7)), "patient.setting", "enum.defined_only"),
    (common_pb2.PatientContext(age_years=121), "patient.age_years", "int32.gte_lte"),
    (common_pb2.PatientContext(age_years=-1), "patient.age_years", "int32.gte_lte"),
    (common_pb2.PatientContext(days_to_competition=-3), "patient.days_to_competition", "int32.gte_lte"),
    (common_pb2.PatientContext(context_flags=["Not A Flag"]), "patient.context_flags[0]", "string.pattern"),
]


def test_a_time_past_the_year_9999_is_refused_naming_the_field() -> None:
    """Hypothesis once drew such a ``since``: protovalidate raised on it; the checker names it."""
    request = audit_pb2.ListAuditRecordsRequest(since=timestamp_pb2.Timestamp(seconds=315_576_000_001))
    assert [(path, rule) for path, rule, _ in contract.problems(request)] == [("since", "timestamp.valid")]
    with pytest.raises(ValueError):
        reference(request)


@pytest.mark.parametrize(("patient", "path", "rule"), CASES, ids=[c[1] + ":" + c[2] for c in CASES])
def test_a_broken_patient_rule_names_the_field(patient: common_pb2.PatientContext, path: str, rule: str) -> None:
    request = encounter_pb2.AssessRequest()
    request.CopyFrom(valid("Assess", encounter_pb2.AssessRequest))
    request.patient.MergeFrom(patient)
    assert [(p, r) for p, r, _ in contract.problems(request)] == [(path, rule)]
    assert reference(request) == {(path, rule)}


def test_descriptions_say_what_is_wrong_in_words() -> None:
    found = dict((p, d) for p, _, d in contract.problems(encounter_pb2.AssessRequest(
        patient=common_pb2.PatientContext(sex=cast(common_pb2.Sex, 99), age_years=200),
        evidence=[common_pb2.Evidence(finding_id="sx_tingling")])))
    assert "99 is not a value of Sex" in found["patient.sex"] and "SEX_FEMALE" in found["patient.sex"]
    assert found["patient.age_years"] == "must be at least 0 and at most 120, got 200"
    assert "EVIDENCE_STATE_UNSPECIFIED" in found["evidence[0].state"]


@pytest.mark.e2e
def test_the_servers_refuse_broken_rules_with_field_paths(suite: LocalSuite) -> None:
    with suite.channel("encounter") as channel, suite.channel("intake") as intake_channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        request = encounter_pb2.AssessRequest()
        request.CopyFrom(valid("Assess", encounter_pb2.AssessRequest))
        request.patient.sex = cast(common_pb2.Sex, 99)  # outside the enum (see CASES)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Assess(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in violations_of(refused.value)] == ["patient.sex"]
        # A batch refuses only the broken item; the good one still runs.
        good = valid("NormalizeIntake", intake_pb2.NormalizeIntakeRequest)
        bad = intake_pb2.NormalizeIntakeRequest()
        bad.CopyFrom(good)
        bad.patient.age_years = 300
        batch = intake_channel.unary_unary("/footcds.v1.IntakeService/NormalizeIntakeBatch",
                                           request_serializer=intake_pb2.NormalizeIntakeBatchRequest.SerializeToString,
                                           response_deserializer=intake_pb2.NormalizeIntakeBatchResponse.FromString)
        reply = batch(intake_pb2.NormalizeIntakeBatchRequest(items=[good, bad]), timeout=10)
        assert reply.results[0].HasField("response")
        assert [v.field for v in reply.results[1].error.violations] == ["items[1].patient.age_years"]
        # The audit trail's own rules: limit range and a time before 1970.
        audit = channel.unary_unary("/footcds.v1.AuditService/ListAuditRecords",
                                    request_serializer=audit_pb2.ListAuditRecordsRequest.SerializeToString,
                                    response_deserializer=audit_pb2.ListAuditRecordsResponse.FromString)
        with pytest.raises(grpc.RpcError) as listing:
            audit(audit_pb2.ListAuditRecordsRequest(limit=5000, since=timestamp_pb2.Timestamp(seconds=-5)), timeout=10)
        assert {v.field for v in violations_of(listing.value)} == {"limit", "since"}


def test_roster_rows_breaking_a_rule_are_rejected_one_by_one() -> None:
    from services.pipeline.screening import prepare

    good = valid("SubmitScreening", encounter_pb2.SubmitScreeningRequest, "k").athletes[0]
    bad = encounter_pb2.RosterEntry()
    bad.CopyFrom(good)
    bad.athlete_ref = "A-2"
    bad.patient.sex = cast(common_pb2.Sex, 42)  # outside the enum (see CASES)
    prepared = prepare([good, bad])
    assert [p for p, _ in prepared.accepted] == [0]
    (position, result), = prepared.rejected
    assert position == 1 and [v.field for v in result.violations] == ["athletes[1].patient.sex"]




def test_a_timestamp_with_nanos_out_of_range_is_judged_as_protovalidate_judges_it() -> None:
    """(seconds 1, nanos -1.000000001 s) is before the epoch: found by hypothesis, the checker
    compared (seconds, nanos) pairs and let it through."""
    early = audit_pb2.ListAuditRecordsRequest(since=timestamp_pb2.Timestamp(seconds=1, nanos=-1_000_000_001))
    assert compiled(early) == reference(early) == {("since", "timestamp.gte")}
    fine = audit_pb2.ListAuditRecordsRequest(since=timestamp_pb2.Timestamp(seconds=1, nanos=-999_999_999))
    assert compiled(fine) == reference(fine) == set()

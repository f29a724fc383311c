"""Hostile input: property-based tests (hypothesis) against every RPC and the file parsers.

Every request message of every service gets random bytes, well-typed messages with extreme
and vocabulary values, truncated messages and oversized ones, sent as raw bytes through a
generic channel (so nothing client-side types or checks them). A server must answer each
with a well-formed status that blames the input or a limit (INVALID_ARGUMENT,
RESOURCE_EXHAUSTED, NOT_FOUND, ...), never UNKNOWN or INTERNAL, and must stay up. The
case-file and roster parsers get the same treatment in-process: the only exception they may
raise is their own "bad input" one. The number of inputs tried is printed at the end.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from footcds.v1 import (
    audit_pb2,
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)
from google.protobuf import descriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cli.casefile import case_from_json, read_case
from services.cli.roster import COLUMNS as ROSTER_COLUMNS
from services.cli.roster import RosterError, read_roster
from services.common.config import settings as footcds_settings
from services.common.errors import InvalidInput
from services.common.healthcheck import check
from services.common.suite import SERVICES, LocalSuite
from services.knowledge import knowledge_base
from services.knowledge.validate import vocabulary

pytestmark = pytest.mark.e2e
TRIED: Counter[str] = Counter()
CODES: Counter[str] = Counter()
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
FUZZ = settings(max_examples=40, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Rpc:
    server: str
    method: str
    request: descriptor.Descriptor
    streaming: bool

    def __str__(self) -> str:
        return self.method.rsplit("/", 1)[1]


def _rpcs() -> list[Rpc]:
    hosts = {"IntakeService": "intake", "DifferentialService": "differential", "WorkupService": "workup",
             "TreatmentService": "treatment", "EncounterService": "encounter", "AuditService": "encounter"}
    out = []
    for module in (intake_pb2, differential_pb2, workup_pb2, treatment_pb2, encounter_pb2, audit_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                out.append(Rpc(hosts[service.name], f"/{service.full_name}/{method.name}", method.input_type,
                               method.server_streaming))
    return out


RPCS = _rpcs()


# --- payload strategies ---------------------------------------------------------------------


def _words() -> list[str]:
    kb = knowledge_base()
    vocab = vocabulary()
    words = [*vocab["findings"], *vocab["conditions"], *vocab["tests"], *vocab["context_flags"]]
    words += [q.id for q in kb.questions] + [o.id for q in kb.questions for o in q.options]
    return sorted(set(words)) + ["", "scr_" + "0" * 32, "x" * 300]


WORDS = _words()
FD = descriptor.FieldDescriptor
_INT_BOUNDS = {
    **dict.fromkeys((FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32), (-(2**31), 2**31 - 1)),
    **dict.fromkeys((FD.TYPE_UINT32, FD.TYPE_FIXED32), (0, 2**32 - 1)),
    **dict.fromkeys((FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64), (-(2**63), 2**63 - 1)),
    **dict.fromkeys((FD.TYPE_UINT64, FD.TYPE_FIXED64), (0, 2**64 - 1)),
}


def _scalar(field: descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == field.TYPE_STRING:
        return st.one_of(st.sampled_from(WORDS), st.text(max_size=30))
    if kind == field.TYPE_BYTES:
        return st.binary(max_size=30)
    if kind == field.TYPE_BOOL:
        return st.booleans()
    if kind in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return st.floats(width=32 if kind == field.TYPE_FLOAT else 64)
    if kind == field.TYPE_ENUM:  # proto3 enums are open: unknown numbers arrive too
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-3, 99))
    low, high = _INT_BOUNDS[kind]
    return st.one_of(st.integers(-2, 130), st.integers(low, high))


def messages(desc: descriptor.Descriptor, depth: int = 0, wide: int = 4) -> st.SearchStrategy[Message]:
    """Well-typed messages of ``desc`` with random, extreme and vocabulary values."""
    cls = GetMessageClass(desc)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        if field.message_type is not None:
            if depth >= 3:
                continue
            value: st.SearchStrategy[Any] = messages(field.message_type, depth + 1, wide)
        else:
            value = _scalar(field)
        fields[field.name] = st.lists(value, max_size=wide) if field.is_repeated else value

    def build(values: dict[str, Any]) -> Message:
        message = cls()
        for name, value in values.items():
            field = desc.fields_by_name[name]
            target = getattr(message, name) if field.is_repeated or field.message_type else None
            if field.is_repeated:
                if field.message_type is not None:
                    for item in value:
                        target.add().CopyFrom(item)
                else:
                    target.extend(value)
            elif field.message_type is not None:
                target.CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    return st.fixed_dictionaries({}, optional=fields).map(build)


def _seeds() -> dict[str, list[Message]]:
    """Valid requests of the single-case RPCs (the examples, staged as the pipeline does), so
    that mutations of them reach past validation into the domain code."""
    from services.differential.servicer import rank_differential
    from services.encounter import stages
    from services.intake.servicer import normalize_intake
    from tests.conftest import EXAMPLES, example_request

    out: dict[str, list[Message]] = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        assess = example_request(path.stem)
        intake = normalize_intake(stages.intake_request(assess))
        ranked = rank_differential(stages.differential_request(intake))
        differential = ranked.differential
        for message in (assess, stages.intake_request(assess), stages.differential_request(intake),
                        stages.workup_request(intake, differential), stages.treatment_request(intake, differential)):
            out.setdefault(message.DESCRIPTOR.full_name, []).append(message)
    return out


SEEDS = _seeds()


def _merged(seed: Message, extra: Message) -> bytes:
    mutant = type(seed)()
    mutant.CopyFrom(seed)
    mutant.MergeFrom(extra)  # scalars overridden, lists extended: a near-valid request
    return mutant.SerializeToString()


def payloads(rpc: Rpc) -> st.SearchStrategy[bytes]:
    typed = messages(rpc.request).map(lambda m: m.SerializeToString())
    seeds = SEEDS.get(rpc.request.full_name)
    if seeds:
        typed = st.builds(_merged, st.sampled_from(seeds), messages(rpc.request, depth=1, wide=2)) | typed
    truncated = st.tuples(typed, st.integers(0, 10_000)).map(lambda t: t[0][: t[1] % max(len(t[0]), 1)])
    # Many repeated elements (a roster, a batch, an evidence list) within the size limit.
    wide = messages(rpc.request, depth=2, wide=400).map(lambda m: m.SerializeToString())
    return st.one_of(st.binary(max_size=600), typed, typed, truncated, wide)


# --- against the servers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def channels(suite: LocalSuite) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: suite.channel(name) for name in SERVICES}
    yield opened
    for channel in opened.values():
        channel.close()


def send(channel: grpc.Channel, rpc: Rpc, payload: bytes, timeout: float = 20) -> grpc.StatusCode:
    try:
        if rpc.streaming:
            stream = channel.unary_stream(rpc.method, request_serializer=None, response_deserializer=None)
            for _ in stream(payload, timeout=timeout):
                pass
        else:
            call = channel.unary_unary(rpc.method, request_serializer=None, response_deserializer=None)
            call(payload, timeout=timeout)
    except grpc.RpcError as error:
        code = error.code()
        assert isinstance(code, grpc.StatusCode) and isinstance(error.details() or "", str)
        return code
    return grpc.StatusCode.OK


@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_any_payload_gets_a_well_formed_status(suite: LocalSuite, channels: dict[str, grpc.Channel], rpc: Rpc) -> None:
    @FUZZ
    @given(payload=payloads(rpc))
    def run(payload: bytes) -> None:
        code = send(channels[rpc.server], rpc, payload)
        TRIED["rpc payloads"] += 1
        CODES[code.name] += 1
        assert code not in FORBIDDEN, f"{rpc.method} answered {code.name} to {payload[:80]!r}..."
        assert code != grpc.StatusCode.DEADLINE_EXCEEDED, f"{rpc.method} hung on {payload[:80]!r}..."

    run()
    assert check(suite.address(rpc.server)), f"{rpc.server} is no longer serving"


def test_oversized_payloads_are_resource_exhausted_on_every_server(
    suite: LocalSuite, channels: dict[str, grpc.Channel]
) -> None:
    limit = footcds_settings().max_message_bytes
    oversized = b"\x0a" + b"\x00" * limit
    for server in SERVICES:
        rpc = next(r for r in RPCS if r.server == server)
        assert send(channels[server], rpc, oversized) == grpc.StatusCode.RESOURCE_EXHAUSTED
        TRIED["rpc payloads"] += 1
        assert check(suite.address(server))


# --- the file parsers, in-process ---------------------------------------------------------------

SURROGATES = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(WORDS)
    | SURROGATES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["patient", "evidence", "answers", "id", "state", "age", "sex", "ref", "activity", "setting",
         "context_flags", "days_to_competition", "question", "options"]), inner, max_size=5),
    max_leaves=25,
)
CASE_LIKE = st.fixed_dictionaries({}, optional={
    "patient": st.dictionaries(st.sampled_from(["age", "sex", "activity", "setting", "context_flags",
                                                "days_to_competition", "ref"]), JSON, max_size=7),
    "evidence": st.lists(st.fixed_dictionaries({}, optional={"id": JSON, "state": JSON}), max_size=5),
    "answers": st.lists(st.fixed_dictionaries({}, optional={"question": JSON, "options": JSON}), max_size=4),
})


@settings(FUZZ, max_examples=400)
@given(raw=st.one_of(JSON, CASE_LIKE))
def test_the_case_parser_accepts_or_names_the_problem(raw: Any) -> None:
    TRIED["case files"] += 1
    try:
        request = case_from_json(raw)
    except InvalidInput as exc:
        assert exc.violations
    else:
        assert isinstance(request, encounter_pb2.AssessRequest)


@settings(FUZZ, max_examples=150)
@given(data=st.one_of(st.binary(max_size=400), JSON.map(lambda v: json.dumps(v).encode()),
                      st.builds(lambda b, n: b[:n], JSON.map(lambda v: json.dumps(v).encode()), st.integers(0, 60))))
def test_reading_any_case_file_gives_a_request_or_a_named_problem(tmp_path_factory: pytest.TempPathFactory,
                                                                  data: bytes) -> None:
    TRIED["case files"] += 1
    path = tmp_path_factory.mktemp("case", numbered=True) / "case.json"
    path.write_bytes(data)
    try:
        read_case(path)
    except InvalidInput as exc:
        assert exc.violations


CELL = st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers(-5, 200).map(str),
                 st.lists(st.sampled_from(WORDS), max_size=3).map(";".join),
                 st.sampled_from(["female", "male", "other", "q_location=toes|web_3_4", "a=b=c", '"', "\n"]))
HEADER = st.lists(st.sampled_from([*ROSTER_COLUMNS, "name", ""]), max_size=8)


def _csv(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([",".join(header), *(",".join(row) for row in rows)])


ROSTER_TEXT = st.one_of(
    st.text(max_size=300),
    st.builds(_csv, HEADER, st.lists(st.lists(CELL, max_size=9), max_size=6)),
    st.builds(_csv, st.just(list(ROSTER_COLUMNS)),
              st.lists(st.lists(CELL, min_size=len(ROSTER_COLUMNS), max_size=len(ROSTER_COLUMNS)),
                       min_size=1, max_size=6)),
)


@settings(FUZZ, max_examples=500)
@given(data=st.one_of(st.binary(max_size=300), ROSTER_TEXT.map(lambda t: t.encode()),
                      ROSTER_TEXT.map(lambda t: ("\ufeff" + t).encode())))
def test_reading_any_roster_file_gives_rows_or_a_named_problem(tmp_path_factory: pytest.TempPathFactory,
                                                               data: bytes) -> None:
    TRIED["roster files"] += 1
    path = tmp_path_factory.mktemp("roster", numbered=True) / "roster.csv"
    path.write_bytes(data)
    try:
        roster = read_roster(path)
    except RosterError as exc:
        assert str(exc)
    else:
        assert roster.total >= 1


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: how many inputs were tried, and what the servers answered."""
    yield
    line = (f"[fuzz] inputs tried: {dict(TRIED)}, total {sum(TRIED.values())}; "
            f"rpc status codes: {dict(CODES.most_common())}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")

"""Hostile input: property-based tests (hypothesis) against every RPC and the file parsers.

Every request message of every service gets random bytes, well-typed messages with extreme
and vocabulary values, truncated messages and oversized ones, sent as raw bytes through a
generic channel (so nothing client-side types or checks them), with varied call options: no
deadline (grpcurl's default and many EHR clients'), a short one or a long one; a token, none,
a forged one or another scheme; extra metadata. A server must answer each with a well-formed
status that blames the input, the caller or a limit (INVALID_ARGUMENT, UNAUTHENTICATED,
RESOURCE_EXHAUSTED, NOT_FOUND, ...), never UNKNOWN or INTERNAL, and must stay up. The
case-file and roster parsers get the same treatment in-process: the only exception they may
raise is their own "bad input" one. The inputs tried and the status codes are printed at the end.

`make test` runs a short round; `make fuzz` (FOOTCDS_FUZZ_CAMPAIGN=1) a campaign of more than
100,000 inputs across every RPC, case files and rosters.
"""

from __future__ import annotations

import json
import os
import random
import string
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from footcds.v1 import (
    encounter_pb2,
)
from google.protobuf import descriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.suite import SERVICES, LocalSuite
from services.cli.casefile import case_from_json, read_case
from services.cli.roster import COLUMNS as ROSTER_COLUMNS
from services.cli.roster import RosterError, read_roster
from services.knowledge import knowledge_base
from services.knowledge.validate import vocabulary
from services.platform.config import settings as footcds_settings
from services.platform.errors import InvalidInput
from services.platform.healthcheck import check
from tests.rpc_catalog import Rpc, all_rpcs

pytestmark = pytest.mark.e2e
TRIED: Counter[str] = Counter()
CODES: Counter[str] = Counter()
OPTIONS: Counter[str] = Counter()  # the call options the RPC inputs were sent with
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
CAMPAIGN = os.environ.get("FOOTCDS_FUZZ_CAMPAIGN") == "1"
# Examples per test: the short round of `make test`, or the campaign of `make fuzz`.
EXAMPLES = {"rpc": 800, "case": 1500, "case file": 1000, "roster": 1500} if CAMPAIGN else \
    {"rpc": 40, "case": 400, "case file": 150, "roster": 500}
# The campaign also reads cheap byte-level mutants of every generated file (flipped, cut, spliced
# bytes): hypothesis builds well-shaped inputs, the mutants break them in the ways disks and
# hand edits do, at a thousandth of the cost per input.
MUTANTS = {"case": 30, "case file": 20, "roster": 20} if CAMPAIGN else {"case": 2, "case file": 2, "roster": 2}
# The campaign sends its RPC inputs in concurrent batches (the servers, not the generator, set the pace).
BATCH = 24 if CAMPAIGN else 1
FUZZ = settings(max_examples=EXAMPLES["rpc"] // BATCH, deadline=None, derandomize=False, database=None,
                suppress_health_check=list(HealthCheck))
RPCS = all_rpcs()


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
        assert field.enum_type is not None, f"{field.full_name} is an enum field without its enum"
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
            # a repeated container or sub-message, found by name: its type depends on the field
            target: Any = getattr(message, name) if field.is_repeated or field.message_type else None
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
    from services.differential.handlers import rank_differential
    from services.intake.handlers import normalize_intake
    from services.pipeline import stages
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
    opened = {name: suite.channel(name) for name in SERVICES}  # the dev token on every call
    yield opened
    for channel in opened.values():
        channel.close()


@dataclass(frozen=True)
class CallOptions:
    """How a client calls: its deadline (None = none at all), credentials and extra metadata."""

    timeout: float | None = 20.0
    auth: str = "token"  # "token", "none", "forged" or "basic"
    extra: tuple[tuple[str, str | bytes], ...] = ()

    def metadata(self, token: str) -> list[tuple[str, str | bytes]]:
        auth = {"token": f"Bearer {token}", "forged": f"Bearer {token[::-1]}x", "basic": "Basic ZGV2OmRldg=="}
        out = [("authorization", auth[self.auth])] if self.auth in auth else []
        return out + list(self.extra)

    @property
    def short(self) -> bool:
        return self.timeout is not None and self.timeout < 5


HEADER_VALUE = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/=", max_size=40).map(str.strip)
CALL_OPTIONS = st.builds(
    CallOptions,
    timeout=st.one_of(st.none(), st.just(20.0), st.floats(0.05, 3)),
    auth=st.sampled_from(["token", "token", "token", "none", "forged", "basic"]),
    extra=st.lists(st.one_of(
        st.tuples(st.from_regex(r"x-[a-z0-9][a-z0-9-]{0,15}", fullmatch=True).filter(lambda k: not k.endswith("-bin")),
                  HEADER_VALUE),
        st.tuples(st.just("x-fuzz-bin"), st.binary(max_size=40)),
        st.tuples(st.sampled_from(["user-agent", "x-request-id", "grpc-accept-encoding-x"]), HEADER_VALUE),
    ), max_size=3).map(tuple),
)


def send(channel: grpc.Channel, rpc: Rpc, payload: bytes, timeout: float | None = 20,
         metadata: list[tuple[str, str | bytes]] | None = None) -> grpc.StatusCode:
    try:
        if rpc.streaming:
            stream = channel.unary_stream(rpc.method, request_serializer=None, response_deserializer=None)
            for _ in stream(payload, timeout=timeout, metadata=metadata):
                pass
        else:
            call = channel.unary_unary(rpc.method, request_serializer=None, response_deserializer=None)
            call(payload, timeout=timeout, metadata=metadata)
    except grpc.RpcError as error:
        code = error.code()
        assert isinstance(code, grpc.StatusCode) and isinstance(error.details() or "", str)
        return code
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def bare_channels(suite: LocalSuite) -> Iterator[dict[str, grpc.Channel]]:
    """Channels without credentials: each call brings its own (CallOptions)."""
    opened = {name: suite.channel(name, token="") for name in SERVICES}
    yield opened
    for channel in opened.values():
        channel.close()


@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_any_payload_with_any_call_options_gets_a_well_formed_status(
    suite: LocalSuite, bare_channels: dict[str, grpc.Channel], rpc: Rpc
) -> None:
    def one(payload: bytes, options: CallOptions) -> None:
        code = send(bare_channels[rpc.server], rpc, payload, options.timeout, options.metadata(suite.token))
        TRIED["rpc payloads"] += 1
        OPTIONS["no deadline" if options.timeout is None else "short deadline" if options.short else "deadline"] += 1
        OPTIONS[f"auth {options.auth}"] += 1
        CODES[code.name] += 1
        where = f"{rpc.method} with {options}"
        assert code not in FORBIDDEN, f"{where} answered {code.name} to {payload[:80]!r}..."
        if options.short and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return  # a deadline of a few milliseconds may pass before any answer
        if options.auth != "token":  # credentials are checked before anything is parsed
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{where}: {code.name}"
        else:  # no deadline means the server's budget, which no input exhausts
            assert code != grpc.StatusCode.DEADLINE_EXCEEDED, f"{where} hung on {payload[:80]!r}..."

    @FUZZ
    @given(batch=st.lists(st.tuples(payloads(rpc), CALL_OPTIONS), min_size=BATCH, max_size=BATCH))
    def run(batch: list[tuple[bytes, CallOptions]]) -> None:
        if BATCH == 1:
            one(*batch[0])
            return
        with futures.ThreadPoolExecutor(max_workers=BATCH) as pool:
            for done in [pool.submit(one, payload, options) for payload, options in batch]:
                done.result()

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


def mutants(data: bytes, seed: int, count: int) -> Iterator[bytes]:
    """``count`` deterministic byte-level mutants of ``data`` (hypothesis draws the seed)."""
    rng = random.Random(seed)
    for _ in range(count):
        out = bytearray(data or rng.randbytes(8))
        at = rng.randrange(len(out))
        op = rng.randrange(5)
        if op == 0:
            for _ in range(rng.randint(1, 4)):
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif op == 1:
            del out[at:]
        elif op == 2:
            out[at:at] = rng.choice([rng.randbytes(rng.randint(1, 8)), b'"', b"{", b"]", b",", b"\n", b"\xff", b";"])
        elif op == 3:
            end = rng.randint(at, len(out))
            out[at:at] = out[at:end]
        else:
            del out[at:rng.randint(at, len(out))]
        yield bytes(out)


def read_case_or_problem(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        read_case(path)
    except InvalidInput as exc:
        assert exc.violations


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder whose files are rewritten for every input (no folder per input)."""
    return tmp_path_factory.mktemp("fuzz-files")


@settings(FUZZ, max_examples=EXAMPLES["case"])
@given(raw=st.one_of(JSON, CASE_LIKE), seed=st.integers(0, 2**32))
def test_the_case_parser_accepts_or_names_the_problem(scratch: Path, raw: Any, seed: int) -> None:
    TRIED["case files"] += 1
    try:
        request = case_from_json(raw)
    except InvalidInput as exc:
        assert exc.violations
    else:
        assert isinstance(request, encounter_pb2.AssessRequest)
    text = json.dumps(raw).encode("utf-8", "surrogatepass")
    for mutant in mutants(text, seed, MUTANTS["case"]):
        TRIED["case files"] += 1
        read_case_or_problem(scratch / "case.json", mutant)


@settings(FUZZ, max_examples=EXAMPLES["case file"])
@given(data=st.one_of(st.binary(max_size=400), JSON.map(lambda v: json.dumps(v).encode()),
                      st.builds(lambda b, n: b[:n], JSON.map(lambda v: json.dumps(v).encode()), st.integers(0, 60))),
       seed=st.integers(0, 2**32))
def test_reading_any_case_file_gives_a_request_or_a_named_problem(scratch: Path, data: bytes, seed: int) -> None:
    for each in (data, *mutants(data, seed, MUTANTS["case file"])):
        TRIED["case files"] += 1
        read_case_or_problem(scratch / "file.json", each)


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


@settings(FUZZ, max_examples=EXAMPLES["roster"])
@given(data=st.one_of(st.binary(max_size=300), ROSTER_TEXT.map(lambda t: t.encode()),
                      ROSTER_TEXT.map(lambda t: ("\ufeff" + t).encode())), seed=st.integers(0, 2**32))
def test_reading_any_roster_file_gives_rows_or_a_named_problem(scratch: Path, data: bytes, seed: int) -> None:
    path = scratch / "roster.csv"
    for each in (data, *mutants(data, seed, MUTANTS["roster"])):
        TRIED["roster files"] += 1
        path.write_bytes(each)
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
            f"rpc status codes: {dict(CODES.most_common())}; call options: {dict(OPTIONS.most_common())}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")

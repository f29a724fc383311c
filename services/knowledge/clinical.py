"""Plain, typed clinical values shared by the domain modules of every service.

Domain functions take and return these (never protobuf messages), so they can be tested
and benchmarked without a server; ``convert.py`` maps them to and from the wire types.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import get_args

from services.knowledge.models import Sex, TriageLevelId


class State(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


# Most urgent first: the knowledge base's own Literal type; the loader refuses a triage.yaml
# whose ranks order the levels otherwise, so the code and the data cannot disagree.
TRIAGE_ORDER: tuple[str, ...] = get_args(TriageLevelId)


# The sexes a patient may have recorded (``Patient.sex``; None when not recorded).
SEXES: tuple[str, ...] = get_args(Sex)


def more_urgent(a: str, b: str) -> str:
    """The more urgent of two triage level ids."""
    return a if TRIAGE_ORDER.index(a) <= TRIAGE_ORDER.index(b) else b


@dataclass(frozen=True, slots=True)
class Patient:
    ref: str = ""
    age: int | None = None
    sex: Sex | None = None  # None: not recorded; intake refuses any other value (validate_patient)
    activity: str = ""
    setting: str = "sports_medicine"  # or "general_adult"
    flags: frozenset[str] = frozenset()
    days_to_competition: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class EvidenceColumns:
    """A case's known findings as column codes of one finding vocabulary.

    Why: ranking a batch reads every case's evidence; out of dicts that costs ~60 ns per entry,
    more than the arithmetic itself (docs/performance.md).  The intake's ``validate`` encodes
    each case once (``with_columns``), so a batch joins bytes instead of reading dicts.
    ``eq=False``: compared by identity, a batch tests thousands of them at C speed.
    """

    vocabulary: tuple[str, ...]  # the finding order the codes index (``KnowledgeBase.finding_ids``)
    codes: bytes  # native int16 each: column if present, len(vocabulary) + column if absent, -1 if unknown


@dataclass(frozen=True, slots=True)
class Case:
    patient: Patient
    evidence: Mapping[str, State]  # finding id -> state; one entry per finding
    # ``evidence`` as column codes, set by ``with_columns`` only (never an argument, so it cannot
    # disagree with the evidence; ``dataclasses.replace`` drops it), ignored by ``==``.
    columns: EvidenceColumns | None = field(default=None, init=False, compare=False, repr=False)

    def present(self) -> set[str]:
        return {f for f, s in self.evidence.items() if s is State.PRESENT}


class _ColumnTable(dict[tuple[str, str], int]):
    """(finding id, state) -> code; -1 for an unknown state.  A finding outside the
    vocabulary is tolerated while unknown and refused otherwise (``__missing__``)."""

    def __missing__(self, key: tuple[str, str]) -> int:
        finding, state = key
        if state == State.UNKNOWN:
            return -1
        raise KeyError(finding)


_COLUMN_TABLES: dict[int, tuple[tuple[str, ...], _ColumnTable]] = {}


def _column_table(vocabulary: tuple[str, ...]) -> _ColumnTable:
    """The codes of one vocabulary, built once (bounded: one vocabulary in practice)."""
    held = _COLUMN_TABLES.get(id(vocabulary))
    if held is not None and held[0] is vocabulary:
        return held[1]
    n = len(vocabulary)
    if 2 * n > 2**15:
        raise ValueError(f"{n} findings do not fit int16 column codes")
    table = _ColumnTable()
    for i, finding in enumerate(vocabulary):
        table[finding, State.PRESENT], table[finding, State.ABSENT], table[finding, State.UNKNOWN] = i, n + i, -1
    if len(_COLUMN_TABLES) < 16:
        _COLUMN_TABLES[id(vocabulary)] = (vocabulary, table)
    return table


def with_columns(case: Case, vocabulary: tuple[str, ...]) -> Case:
    """``case`` (same patient and evidence) carrying its evidence as ``EvidenceColumns``.

    An unknown finding gets -1 (the ranking leaves it out); a known state of a finding
    outside ``vocabulary``, or a state that is none of the three, is refused (``KeyError``,
    as the ranking's finding index refuses it).  One C-level pass: ~2 us per case.
    """
    codes = array("h", map(_column_table(vocabulary).__getitem__, case.evidence.items()))
    out = Case(case.patient, case.evidence)
    object.__setattr__(out, "columns", EvidenceColumns(vocabulary, codes.tobytes()))
    return out


@dataclass(frozen=True, slots=True)
class RedFlagHit:
    rule_id: str
    description: str
    finding_ids: tuple[str, ...]
    level: str
    suspect: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Triage:
    level: str
    reasons: tuple[str, ...]
    red_flags: tuple[RedFlagHit, ...] = ()
    advice: str = ""


@dataclass(frozen=True, slots=True)
class Weight:
    finding_id: str
    label: str
    state: State
    llr: float


@dataclass(frozen=True, slots=True)
class CitationRef:
    key: str
    title: str
    estimate: bool = False


@dataclass(frozen=True, slots=True)
class ScoredCondition:
    condition_id: str
    label: str
    probability: float
    icd10cm: tuple[str, ...] = ()
    snomed: str | None = None
    emergency: bool = False
    dont_miss: bool = False
    evidence_for: tuple[Weight, ...] = ()
    evidence_against: tuple[Weight, ...] = ()
    decisive_findings: tuple[str, ...] = ()
    unlikely: bool = False
    specialist: str = ""
    citations: tuple[CitationRef, ...] = ()


# ``ScoredCondition(...)`` with every field given, set slot by slot: the frozen dataclass's
# ``__init__`` sets its 13 fields through ``object.__setattr__`` by name (~2.8 us a condition
# against ~1.1), and every ranked differential builds ~36 of them (docs/performance.md, twelfth
# pass).  The field order is checked against the dataclass here at import, so a new or moved
# field fails loudly instead of being left unset.
_SCORED_FIELD_NAMES = (
    "condition_id", "label", "probability", "icd10cm", "snomed", "emergency", "dont_miss", "evidence_for",
    "evidence_against", "decisive_findings", "unlikely", "specialist", "citations",
)
if tuple(f.name for f in fields(ScoredCondition)) != _SCORED_FIELD_NAMES:
    raise RuntimeError("ScoredCondition's fields changed: update clinical.scored_condition")
_new_object = object.__new__
(_set_id, _set_label, _set_probability, _set_icd10cm, _set_snomed, _set_emergency, _set_dont_miss,
 _set_for, _set_against, _set_decisive, _set_unlikely, _set_specialist, _set_citations) = (
    getattr(ScoredCondition, name).__set__ for name in _SCORED_FIELD_NAMES
)


def scored_condition(
    condition_id: str, label: str, probability: float, icd10cm: tuple[str, ...], snomed: str | None,
    emergency: bool, dont_miss: bool, evidence_for: tuple[Weight, ...], evidence_against: tuple[Weight, ...],
    decisive_findings: tuple[str, ...], unlikely: bool, specialist: str, citations: tuple[CitationRef, ...],
) -> ScoredCondition:
    """``ScoredCondition(...)`` of these 13 fields in field order, the same object (equal, same
    hash and repr: tests/test_scored_condition.py), built without the frozen ``__init__``."""
    c: ScoredCondition = _new_object(ScoredCondition)
    _set_id(c, condition_id)
    _set_label(c, label)
    _set_probability(c, probability)
    _set_icd10cm(c, icd10cm)
    _set_snomed(c, snomed)
    _set_emergency(c, emergency)
    _set_dont_miss(c, dont_miss)
    _set_for(c, evidence_for)
    _set_against(c, evidence_against)
    _set_decisive(c, decisive_findings)
    _set_unlikely(c, unlikely)
    _set_specialist(c, specialist)
    _set_citations(c, citations)
    return c


@dataclass(frozen=True, slots=True)
class Differential:
    conditions: tuple[ScoredCondition, ...]
    dont_miss: tuple[ScoredCondition, ...]
    triage: Triage

    def probabilities(self) -> dict[str, float]:
        return {c.condition_id: c.probability for c in self.conditions}


@dataclass(frozen=True, slots=True)
class TestRecommendation:
    test_id: str
    label: str
    tier: str  # "immediate" | "first_line" | "if_unclear"
    rationale: str
    condition_ids: tuple[str, ...] = ()
    cpt: tuple[str, ...] = ()
    loinc: tuple[str, ...] = ()
    contraindications_found: tuple[str, ...] = ()
    value_score: float = 0.0
    cost_tier: str = ""
    invasiveness: str = ""
    typical_wait_days: int = 0
    same_day: bool = False
    citations: tuple[CitationRef, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanItem:
    item_id: str
    text: str
    family: str
    stage: str  # "now" | "next_2_6_weeks" | "escalation"
    condition_ids: tuple[str, ...] = ()
    citations: tuple[CitationRef, ...] = ()


@dataclass(frozen=True, slots=True)
class TreatmentPlan:
    items: tuple[PlanItem, ...]
    return_to_run: tuple[str, ...] = ()
    follow_up_days: int = 0
    safety_net: tuple[str, ...] = ()
    conflicts_resolved: tuple[str, ...] = ()
    hold_running: bool = False
    condition_ids: tuple[str, ...] = field(default=())

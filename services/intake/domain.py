"""Validate an intake and normalize it into one state per finding.

Every problem becomes a ``Violation`` naming the request field (``evidence[2].state``,
``patient.age_years``), and all of them are reported together, so a clinician fixes the
record in one pass.  Nothing is dropped silently: a finding is either kept or the request
is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, cast

from services.knowledge.clinical import SEXES, Case, Patient, RedFlagHit, State, with_columns
from services.knowledge.implications import implication_graph
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import Question
from services.knowledge.red_flags import detect_red_flags
from services.knowledge.validate import vocabulary
from services.platform.errors import InvalidInput, Violation

MAX_AGE_YEARS = 120
MAX_EVIDENCE_ITEMS = 500


class EvidenceInput(NamedTuple):
    """One evidence item as received: the state is None when the caller left it unset.

    A named tuple, not a dataclass: one is built per evidence entry of every request, three
    times per athlete of a team screening (intake, differential, work-up), and a frozen
    dataclass costs ~3x as much to build."""

    finding_id: str
    state: State | None


@dataclass(frozen=True, slots=True)
class AnswerInput:
    question_id: str
    option_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NormalizedIntake:
    case: Case
    red_flags: tuple[RedFlagHit, ...]


@dataclass(frozen=True, slots=True)
class _Rules:
    """What ``validate`` reads of a knowledge base on every case, prepared once per base:
    the questions by id, each finding's implied findings in sorted order, the age stand-ins
    in the base's order.  The same values the walks computed per case, so the same answers."""

    questions: dict[str, Question]
    ancestors: dict[str, tuple[str, ...]]
    descendants: dict[str, tuple[str, ...]]
    age_stand_ins: tuple[tuple[str, int], ...]


_RULES: dict[int, tuple[KnowledgeBase, _Rules]] = {}


def _rules(kb: KnowledgeBase) -> _Rules:
    held = _RULES.get(id(kb))
    if held is not None and held[0] is kb:
        return held[1]
    graph = implication_graph(kb)
    rules = _Rules(
        questions={q.id: q for q in kb.questions},
        ancestors={f: tuple(sorted(a)) for f, a in graph.ancestors.items()},
        descendants={f: tuple(sorted(d)) for f, d in graph.descendants.items()},
        age_stand_ins=tuple((f.id, f.age_above) for f in kb.findings.values() if f.age_above is not None),
    )
    if len(_RULES) < 16:  # bounded: one base in practice (tests build a few)
        _RULES[id(kb)] = (kb, rules)
    return rules


def validate_patient(patient: Patient, prefix: str = "patient") -> list[Violation]:
    problems: list[Violation] = []
    if patient.age is not None and not 0 <= patient.age <= MAX_AGE_YEARS:
        problems.append(
            Violation(f"{prefix}.age_years", f"must be between 0 and {MAX_AGE_YEARS}, got {patient.age}")
        )
    if patient.sex is not None and patient.sex not in SEXES:
        # The type says so, but a caller building a Patient from a file or a dict is not checked.
        problems.append(
            Violation(f"{prefix}.sex", f"must be one of {', '.join(SEXES)} (or left out), got {patient.sex!r}")
        )
    if patient.days_to_competition is not None and patient.days_to_competition < 0:
        problems.append(Violation(f"{prefix}.days_to_competition", "must not be negative"))
    known_flags = vocabulary()["context_flags"]
    for i, flag in enumerate(sorted(patient.flags)):
        if flag not in known_flags:
            problems.append(Violation(f"{prefix}.context_flags[{i}]", f"unknown context flag {flag!r}"))
    return problems


def parse_evidence(
    kb: KnowledgeBase, items: Sequence[EvidenceInput], prefix: str = "evidence"
) -> tuple[dict[str, State], dict[str, str], list[Violation]]:
    """Known findings with their states, where each came from, and the problems found."""
    evidence: dict[str, State] = {}
    origin: dict[str, str] = {}
    problems: list[Violation] = []
    if len(items) > MAX_EVIDENCE_ITEMS:
        problems.append(Violation(prefix, f"at most {MAX_EVIDENCE_ITEMS} items, got {len(items)}"))
        return evidence, origin, problems
    # The common case in C: every id known, every state set, no id twice. Each item is a
    # (finding_id, state) pair, so ``dict(items)`` is the loop's evidence in the loop's order;
    # the fields each came from are named only when a later check quotes one (``_Origins``).
    # Anything else takes the loop below, which names every problem (docs/performance.md,
    # eleventh pass).
    fast = dict(items)
    if len(fast) == len(items) and None not in fast.values() and kb.findings.keys() >= fast.keys():
        return cast("dict[str, State]", fast), _Origins(prefix, items), problems
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]"
        if item.finding_id not in kb.findings:
            hint = " (not in the clinical vocabulary)" if item.finding_id not in vocabulary()["findings"] else ""
            problems.append(Violation(f"{where}.finding_id", f"unknown finding id {item.finding_id!r}{hint}"))
            continue
        if item.state is None:
            problems.append(Violation(f"{where}.state", "state is required: present, absent or unknown"))
            continue
        previous = evidence.get(item.finding_id)
        if previous is not None and previous is not item.state:
            problems.append(
                Violation(
                    f"{where}.state",
                    f"{item.finding_id!r} is {item.state.value} here but "
                    f"{previous.value} at {origin[item.finding_id]}",
                )
            )
            continue
        evidence[item.finding_id] = item.state
        origin[item.finding_id] = where
    return evidence, origin, problems


class _Origins(dict[str, str]):
    """Where each finding came from, for the error messages: the explicit entries the later
    checks write (an answer, an implication, the age), else the evidence item's own field,
    looked up only when a message quotes it (``parse_evidence``'s fast path: no id twice)."""

    __slots__ = ("_items", "_positions", "_prefix")

    def __init__(self, prefix: str, items: Sequence[EvidenceInput]) -> None:
        super().__init__()
        self._prefix = prefix
        self._items = items
        self._positions: dict[str, int] | None = None

    def __missing__(self, finding_id: str) -> str:
        # Indexed at the first look-up (an implication quotes its source's field for each
        # finding it derives), so a case's look-ups cost one pass over its items in all.
        if self._positions is None:
            self._positions = {item.finding_id: i for i, item in enumerate(self._items)}
        return f"{self._prefix}[{self._positions[finding_id]}]"


def apply_answers(
    kb: KnowledgeBase,
    answers: Sequence[AnswerInput],
    evidence: dict[str, State],
    origin: dict[str, str],
    prefix: str = "answers",
) -> list[Violation]:
    """Add the findings the answers set; a clash with explicit evidence is an error."""
    if not answers:
        return []
    questions = _rules(kb).questions
    problems: list[Violation] = []
    for i, answer in enumerate(answers):
        where = f"{prefix}[{i}]"
        question = questions.get(answer.question_id)
        if question is None:
            problems.append(Violation(f"{where}.question_id", f"unknown question {answer.question_id!r}"))
            continue
        options = {o.id: o for o in question.options}
        if question.kind == "single" and len(answer.option_ids) > 1:
            problems.append(Violation(f"{where}.option_ids", "this question takes one option"))
            continue
        for j, option_id in enumerate(answer.option_ids):
            option = options.get(option_id)
            if option is None:
                problems.append(
                    Violation(f"{where}.option_ids[{j}]", f"unknown option {option_id!r} of {question.id!r}")
                )
                continue
            for fid, state in [
                *((f, State.PRESENT) for f in option.sets_present),
                *((f, State.ABSENT) for f in option.sets_absent),
            ]:
                previous = evidence.get(fid)
                if previous is not None and previous is not state and previous is not State.UNKNOWN:
                    problems.append(
                        Violation(
                            f"{where}.option_ids[{j}]",
                            f"sets {fid!r} {state.value} but {origin[fid]} says {previous.value}",
                        )
                    )
                    continue
                evidence[fid] = state
                origin[fid] = f"{where}.option_ids[{j}]"
    return problems


def contradictions(
    kb: KnowledgeBase, evidence: dict[str, State], origin: dict[str, str]
) -> list[Violation]:
    problems: list[Violation] = []
    for rule in kb.exclusive_pairs:
        a, b = rule.pair
        if evidence.get(a) is State.PRESENT and evidence.get(b) is State.PRESENT:
            problems.append(
                Violation(origin[b], f"contradicts {origin[a]}: {rule.reason} ({a!r} and {b!r})")
            )
    return problems


def apply_implications(
    kb: KnowledgeBase, evidence: dict[str, State], origin: dict[str, str]
) -> list[Violation]:
    """Close the evidence under the finding implications (``evidence_model.yaml``).

    A present finding makes every finding it entails present (foot drop is weakness), and an
    absent finding makes every finding that entails it absent, so red-flag rules, ranking and
    NextQuestion see both.  A derived state keeps the field it came from, so a clash it causes
    names that field.  A present child with an absent parent is a contradiction, not a choice.
    """
    rules = _rules(kb)
    problems: list[Violation] = []
    ancestors = rules.ancestors
    present_ = State.PRESENT
    for child in [f for f, s in evidence.items() if s is present_ and ancestors.get(f)]:
        for parent in ancestors[child]:
            state = evidence.get(parent)
            if state is State.ABSENT:
                problems.append(
                    Violation(
                        origin[child],
                        f"{child!r} is present, which implies {parent!r}, but {origin[parent]} "
                        "says it is absent",
                    )
                )
            elif state is not present_:
                evidence[parent] = present_
                origin[parent] = origin[child]
    if problems:
        return problems
    # Only the absent findings something entails; the states tested by identity (every value
    # is a ``State``); a parent's field read once, when it first derives a child: the same
    # evidence in the same order as testing every absent finding (eleventh pass).
    descendants = rules.descendants
    absent_, unknown = State.ABSENT, State.UNKNOWN
    for parent in [f for f, s in evidence.items() if s is absent_ and descendants.get(f)]:
        source: str | None = None
        for child in descendants[parent]:
            state = evidence.get(child)
            if state is None or state is unknown:
                evidence[child] = absent_
                if source is None:
                    source = origin[parent]
                origin[child] = source
    return problems


def age_findings(
    kb: KnowledgeBase,
    patient: Patient,
    evidence: dict[str, State],
    origin: dict[str, str],
    prefix: str = "",
) -> list[Violation]:
    """Fill in the findings that stand in for the age (``age_above``) from a known age.

    A stand-in the caller left out or marked unknown is derived from the age, so nobody is
    asked "are you over 50?" when the age is on the record; one that contradicts the age is
    an error naming both.  (The ranking then counts age once, through the age modifiers.)
    """
    if patient.age is None or not 0 <= patient.age <= MAX_AGE_YEARS:
        return []
    problems: list[Violation] = []
    for finding_id, age_above in _rules(kb).age_stand_ins:
        derived = State.PRESENT if patient.age > age_above else State.ABSENT
        given = evidence.get(finding_id)
        if given is None or given is State.UNKNOWN:
            evidence[finding_id] = derived
            origin[finding_id] = f"{prefix}patient.age_years"
        elif given is not derived:
            problems.append(
                Violation(
                    origin[finding_id],
                    f"{finding_id!r} is {given.value} but {prefix}patient.age_years is "
                    f"{patient.age}",
                )
            )
    return problems


def normalize(
    kb: KnowledgeBase,
    patient: Patient,
    evidence_items: Sequence[EvidenceInput],
    answers: Sequence[AnswerInput] = (),
    *,
    prefix: str = "",
) -> NormalizedIntake:
    """The validated case and its red flags; raises ``InvalidInput`` listing every problem."""
    case = validate(kb, patient, evidence_items, answers, prefix=prefix)
    return NormalizedIntake(case=case, red_flags=detect_red_flags(kb, case.present()))


def validate(
    kb: KnowledgeBase,
    patient: Patient,
    evidence_items: Sequence[EvidenceInput],
    answers: Sequence[AnswerInput] = (),
    *,
    prefix: str = "",
    columns: bool = True,
) -> Case:
    """``normalize`` without the red flags: the same checks and the same case (carrying its
    evidence as column codes, ``Case.columns``, for a ranking batch).

    The differential and work-up re-validate what a direct caller sends (same violations),
    but the differential detects red flags itself and the work-up reads none, so they skip
    that part.
    """
    problems = validate_patient(patient, f"{prefix}patient")
    evidence, origin, evidence_problems = parse_evidence(kb, evidence_items, f"{prefix}evidence")
    problems += evidence_problems
    problems += apply_answers(kb, answers, evidence, origin, f"{prefix}answers")
    if not evidence_items and not answers:
        problems.append(
            Violation(f"{prefix}evidence", "at least one finding or questionnaire answer is required")
        )
    elif not problems and not any(s is not State.UNKNOWN for s in evidence.values()):
        problems.append(
            Violation(f"{prefix}evidence", "every finding is unknown: give at least one present or absent")
        )
    if not problems:
        problems += apply_implications(kb, evidence, origin)
    problems += contradictions(kb, evidence, origin)
    problems += age_findings(kb, patient, evidence, origin, prefix)
    if problems:
        raise InvalidInput(problems, "the intake is invalid")
    derived_flags = {
        flag for fid, flag in kb.flags_from_findings.items() if evidence.get(fid) is State.PRESENT
    }
    if not derived_flags <= patient.flags:
        patient = replace(patient, flags=patient.flags | derived_flags)
    case = Case(patient=patient, evidence=evidence)
    # The evidence as column codes too: a ranking batch then reads no dict (docs/performance.md).
    # ``columns=False``: a caller that reads no columns (the work-up) skips them (~13 us a case).
    return with_columns(case, kb.finding_ids) if columns and kb.finding_ids else case

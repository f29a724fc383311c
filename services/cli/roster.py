"""The roster CSV: one athlete per row, read into RosterEntry messages with row-numbered errors.

Format (README, "Team screening"): a header row, then one athlete per row.

    athlete_id,age,sex,sport,present,absent,answers
    T01,24,female,runner,loc_dorsum_foot;during_running_only,sx_weakness,
    T02,19,male,soccer,,,q_location=toes|web_3_4;q_pattern=running_only

``athlete_id`` is required; every other column is optional.  Lists use ``;``; an answer is
``question=option|option``.  Row 1 is the first row after the header.  A row whose shape is
wrong (an age that is not a number, an unknown sex) is rejected here with its row and column;
its meaning (unknown finding ids, contradictions) is checked by the intake service — either
way the row comes out in the results as rejected, and the other rows are still screened.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from footcds.v1 import common_pb2, encounter_pb2

from services.knowledge.implications import implication_graph
from services.knowledge.loader import KnowledgeBase
from services.knowledge.priors import prior_weight
from services.pipeline.screening import rejected
from services.wire.convert import SETTING_TO_PB, SEX_TO_PB
from services.wire.encoding import evidence_entry, message_field_tag

REQUIRED = ("athlete_id",)
COLUMNS = (
    "athlete_id", "age", "sex", "sport", "setting", "days_to_competition", "context_flags",
    "present", "absent", "answers",
)
SYNTH_COLUMNS = ("athlete_id", "age", "sex", "sport", "days_to_competition", "present", "absent", "answers")
MAX_ROSTER_BYTES = 256 * 1024 * 1024


class RosterError(ValueError):
    """The file as a whole cannot be read (not the problem of one row)."""


@dataclass
class Roster:
    """Rows ready to screen, rows rejected while reading, and how to name a row's fields."""

    entries: list[encounter_pb2.RosterEntry] = field(default_factory=list)
    rejected: list[encounter_pb2.AthleteResult] = field(default_factory=list)
    present_counts: dict[int, int] = field(default_factory=dict)  # row -> items in `present`

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.rejected)


def _split(value: str) -> list[str]:
    """The ``;``-separated items, stripped, empty ones dropped (each stripped once, in C)."""
    return [item for item in map(str.strip, value.split(";")) if item]


def _whole(value: str, column: str, problems: list[tuple[str, str]]) -> int | None:
    try:
        number = int(value)
    except ValueError:
        problems.append((column, f"must be a whole number, got {value!r}"))
        return None
    if not -(2**31) <= number < 2**31:
        problems.append((column, f"out of range: {number}"))
        return None
    return number


def _answers(value: str, problems: list[tuple[str, str]]) -> list[common_pb2.QuestionnaireAnswer]:
    out = []
    for i, item in enumerate(_split(value)):
        question, sep, options = item.partition("=")
        if not sep or not question.strip() or not options.strip():
            problems.append((f"answers[{i}]", f"must be question=option|option, got {item!r}"))
            continue
        out.append(
            common_pb2.QuestionnaireAnswer(
                question_id=question.strip(), option_ids=[o.strip() for o in options.split("|") if o.strip()]
            )
        )
    return out


def parse_row(
    raw: dict[str | None, str | list[str] | None], row: int
) -> tuple[encounter_pb2.RosterEntry, list[tuple[str, str]]]:
    """One CSV row as a RosterEntry, with the (column, problem) pairs found in its shape."""
    problems: list[tuple[str, str]] = []
    if None in raw:
        problems.append(("(row)", "has more fields than the header"))
    cell = {k: (v.strip() if isinstance(v, str) else "") for k, v in raw.items() if k is not None}
    if not cell.get("athlete_id"):
        # Caught here, with its column, so the row is rejected before anything is sent.
        problems.append(("athlete_id", "required: an opaque athlete id (never a name)"))
    patient = common_pb2.PatientContext(activity=cell.get("sport", ""))
    if cell.get("age"):
        age = _whole(cell["age"], "age", problems)
        if age is not None:
            patient.age_years = age
    if cell.get("sex"):
        sex = cell["sex"].lower()
        if sex not in SEX_TO_PB:
            problems.append(("sex", f"must be one of {sorted(SEX_TO_PB)}, got {cell['sex']!r}"))
        else:
            patient.sex = SEX_TO_PB[sex]
    if cell.get("setting"):
        if cell["setting"] not in SETTING_TO_PB:
            problems.append(("setting", f"must be one of {sorted(SETTING_TO_PB)}, got {cell['setting']!r}"))
        else:
            patient.setting = SETTING_TO_PB[cell["setting"]]
    if cell.get("days_to_competition"):
        days = _whole(cell["days_to_competition"], "days_to_competition", problems)
        if days is not None:
            patient.days_to_competition = days
    patient.context_flags.extend(_split(cell.get("context_flags", "")))
    entry = encounter_pb2.RosterEntry(
        athlete_ref=cell.get("athlete_id", ""),
        row_number=row,
        patient=patient,
        answers=_answers(cell.get("answers", ""), problems),
    )
    # Findings present then absent, merged as one run of serialized entries: an entry's bytes
    # depend on its id and state alone, and a roster repeats a few hundred of them, so each is
    # encoded once (``encoding.evidence_entry``) and the row's run parsed in C - not a message added
    # and filled per finding (thirteenth pass; the same entries in the same order).
    pieces = [evidence_entry(_TAG_EVIDENCE, f, PRESENT) for f in _split(cell.get("present", ""))]
    pieces += [evidence_entry(_TAG_EVIDENCE, f, ABSENT) for f in _split(cell.get("absent", ""))]
    if pieces:
        entry.MergeFromString(b"".join(pieces))
    return entry, problems


PRESENT, ABSENT = common_pb2.EVIDENCE_STATE_PRESENT, common_pb2.EVIDENCE_STATE_ABSENT
_TAG_EVIDENCE = message_field_tag(encounter_pb2.RosterEntry, "evidence")


def parse_roster(text: str) -> Roster:
    """Every row of a roster, each either an entry or a rejected result naming its columns."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames
    if not header:
        raise RosterError("the roster is empty: expected a header row starting with athlete_id")
    names = [h.strip() for h in header]
    unknown = [h for h in names if h not in COLUMNS]
    if unknown:
        raise RosterError(f"unknown column(s) {unknown}; the columns are {list(COLUMNS)}")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise RosterError(f"missing required column(s) {missing}")
    if len(set(names)) != len(names):
        raise RosterError(f"a column is repeated in the header: {names}")
    reader.fieldnames = names
    roster = Roster()
    for row, raw in enumerate(reader, start=1):
        entry, problems = parse_row(raw, row)
        roster.present_counts[row] = len(entry.evidence) - len(_split(str(raw.get("absent") or "")))
        if problems:
            roster.rejected.append(rejected(entry, problems))
        else:
            roster.entries.append(entry)
    if roster.total == 0:
        raise RosterError("the roster has a header but no athletes")
    return roster


def read_roster(path: Path) -> Roster:
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path} is larger than {MAX_ROSTER_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read {path}: {exc.__class__.__name__}") from None
    try:
        return parse_roster(text)
    except csv.Error as exc:
        raise RosterError(f"{path} is not valid CSV: {exc}") from None


_ATHLETE_FIELD = re.compile(r"^athletes\[\d+\]\.")
_EVIDENCE = re.compile(r"^evidence\[(\d+)\](.*)$")
_PATIENT = {
    "patient.age_years": "age",
    "patient.sex": "sex",
    "patient.days_to_competition": "days_to_competition",
    "patient.setting": "setting",
    "athlete_ref": "athlete_id",
    "evidence": "present/absent/answers",
}


def in_roster_words(description: str) -> str:
    """A service's description with request field names replaced by the roster's columns."""
    for path, column in _PATIENT.items():
        if path.startswith("patient."):
            description = description.replace(path, column)
    return description


def column_of(field_path: str, present_count: int) -> str:
    """A result's field path in the roster's own words: ``evidence[3].finding_id`` -> ``absent[1]``."""
    path = _ATHLETE_FIELD.sub("", field_path)
    if path in _PATIENT:
        return _PATIENT[path]
    if path.startswith("patient.context_flags"):
        return path.replace("patient.context_flags", "context_flags", 1)
    match = _EVIDENCE.match(path)
    if match:
        index = int(match.group(1))
        if index < present_count:
            return f"present[{index}]"
        return f"absent[{index - present_count}]"
    return path


# --- a synthetic roster drawn from the knowledge base ----------------------------------------

SPORTS = ("running", "soccer", "basketball", "cycling", "track", "triathlon", "skiing", "hockey", "tennis", "rowing")


def synthesize(kb: KnowledgeBase, athletes: int, seed: int) -> Iterator[dict[str, str]]:
    """Rows of a realistic roster: a condition from the priors (with age and sex), then findings.

    For each athlete: age and sex, a sport; a condition drawn from its sports-medicine prior
    (``knowledge.priors``, the one the ranking uses: prevalence times the age and sex
    modifiers); then every finding the knowledge base lists for that
    condition, present with its likelihood and absent otherwise, plus what a present one
    entails (``evidence_model.yaml`` implications).  Where two present findings
    cannot go together (intake_rules.yaml), the less likely one is recorded absent, as a
    clinician would.  Deterministic for a seed.
    """
    rng = random.Random(seed)
    conditions = list(kb.condition_ids)
    exclusive = [rule.pair for rule in kb.exclusive_pairs]
    graph = implication_graph(kb)
    for i in range(1, athletes + 1):
        age = rng.randint(16, 39) if rng.random() < 0.85 else rng.randint(40, 75)
        sex = rng.choice(("female", "male"))
        weights = [prior_weight(kb.conditions[c], "sports_medicine", age, sex) for c in conditions]
        condition_id = rng.choices(conditions, weights)[0]
        # Findings that stand in for the age (``age_above``) are left to intake to derive.
        likelihoods = {
            f: lik for f, lik in kb.likelihoods.get(condition_id, {}).items()
            if getattr(kb.findings[f], "age_above", None) is None
        }
        present = {f for f, lik in likelihoods.items() if rng.random() < lik.p}
        # A present finding brings what it entails (foot drop is weakness; evidence_model.yaml).
        for f in list(present):
            present |= {a for a in graph.ancestors.get(f, ()) if a in likelihoods}
        for a, b in exclusive:
            if a in present and b in present:
                weaker = a if likelihoods[a].p < likelihoods[b].p else b
                present -= {weaker, *graph.descendants.get(weaker, ())}
        absent = [f for f in likelihoods if f not in present]
        yield {
            "athlete_id": f"S{seed}-{i:05d}",
            "age": str(age),
            "sex": sex,
            "sport": rng.choice(SPORTS),
            "days_to_competition": str(rng.randint(3, 60)) if rng.random() < 0.2 else "",
            "present": ";".join(f for f in likelihoods if f in present),
            "absent": ";".join(absent),
            "answers": "",
        }


def write_roster(rows: Iterator[dict[str, str]], stream: io.TextIOBase | object) -> int:
    writer = csv.DictWriter(stream, fieldnames=SYNTH_COLUMNS, lineterminator="\n")  # type: ignore[arg-type]
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count

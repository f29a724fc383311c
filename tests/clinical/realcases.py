"""The real-case corpus: published patients encoded blind, split by source into dev and locked.

Round 1 (``cases/real_*.yaml``) is split by source into dev and locked; its locked third was
run once. Each later round (``cases/roundN/real_*.yaml``) was written blind, by new writers, on
new sources, while the knowledge was tuned on the earlier rounds; all of it is the locked set
``lockedN``, run once on the tuned engine (``make eval-locked-roundN``). Once a locked set's run
is recorded its cases are spent: the ``tuning`` split (dev plus every spent set) is what the
next round tunes on.

Why a split by a hash of the *source* (not of the case id): two patients of one case series
share their authors' way of reporting, so they land on the same side and the locked third
stays unseen as a whole. The locked split is run once (``make eval-locked``), and the run is
recorded in ``locked_runs.jsonl`` beside this file: that record is what the README quotes,
and it switches on the safety gate for the locked cases in ``test_real_cases.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

CASE_DIR = Path(__file__).parent / "cases"
# libyaml's parser when PyYAML has it (its wheels do): the same documents, six times faster.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LOCKED_LEDGER = Path(__file__).parent / "locked_runs.jsonl"
Split = Literal[
    "dev", "locked", "locked2", "locked3", "locked4", "locked5", "locked6", "locked7", "locked8", "locked9",
    "locked10", "locked11", "locked12", "locked13", "locked14", "locked15", "locked16", "locked17", "locked18",
    "locked19", "locked20", "locked21", "tuning",
]
# Each later round is one locked set, in the order the rounds were written.
ROUND_SPLITS: dict[int, Split] = {
    2: "locked2",
    3: "locked3",
    4: "locked4",
    5: "locked5",
    6: "locked6",
    7: "locked7",
    8: "locked8",
    9: "locked9",
    10: "locked10",
    11: "locked11",
    12: "locked12",
    13: "locked13",
    14: "locked14",
    15: "locked15",
    16: "locked16",
    17: "locked17",
    18: "locked18",
    19: "locked19",
    20: "locked20",
    21: "locked21",
}
ROUND_DIRS = {n: CASE_DIR / f"round{n}" for n in ROUND_SPLITS}
LOCKED_SETS: dict[Split, Path] = {ROUND_SPLITS[n]: d for n, d in ROUND_DIRS.items()}
TriageLevel = Literal["emergency", "urgent", "routine", "self_care"]
TRIAGE_ORDER: tuple[TriageLevel, ...] = ("emergency", "urgent", "routine", "self_care")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CasePatient(_Strict):
    age: int | None = None
    sex: Literal["female", "male", "unknown", "other"] = "unknown"
    activity: str | None = None


class CaseFinding(_Strict):
    id: str
    state: Literal["present", "absent"]


class CaseExpectation(_Strict):
    condition: str
    final_diagnosis: str
    acceptable: tuple[str, ...] = ()
    triage: TriageLevel
    # Empty when the right first test is none the vocabulary lists (round 4's deep vein thrombosis:
    # venous duplex / D-dimer): whatever the engine recommends then counts as a first-test miss.
    first_tests: tuple[str, ...] = ()


class RealCase(_Strict):
    """One published patient as first seen, with only the findings the source states."""

    id: str = Field(pattern=r"^rc_[a-z]{1,2}\d{3}_[a-z0-9_]+$")
    citation: str = Field(min_length=6)
    source_title: str
    source_kind: Literal["case_report", "case_series", "teaching_case"]
    athlete: bool
    presentation: str
    patient: CasePatient
    evidence: tuple[CaseFinding, ...]
    unmapped: tuple[str, ...] = ()
    expected: CaseExpectation
    # set by the loader from the folder, never written in a case
    corpus_round: Literal[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21] = 1

    @property
    def source_key(self) -> str:
        """The citation without a case-series patient number or formatting differences."""
        return re.sub(r"[^a-z0-9./:]", "", self.citation.lower())

    @property
    def split(self) -> Split:
        if self.corpus_round in ROUND_SPLITS:
            return ROUND_SPLITS[self.corpus_round]
        digest = hashlib.sha256(self.source_key.encode()).digest()
        return "locked" if digest[0] % 3 == 0 else "dev"

    @property
    def is_emergency(self) -> bool:
        return self.expected.triage == "emergency"

    def case_json(self) -> dict[str, object]:
        """The case as ``footcds assess --local --json`` takes it: unknowns simply left out."""
        patient: dict[str, object] = {"activity": self.patient.activity or ""}
        if self.patient.age is not None:
            patient["age"] = self.patient.age
        if self.patient.sex in ("female", "male", "other"):
            patient["sex"] = self.patient.sex
        return {
            "patient": patient,
            "evidence": [{"id": f.id, "state": f.state} for f in self.evidence],
        }


class CorpusFile(_Strict):
    cases: tuple[RealCase, ...]


def load_corpus(directory: Path = CASE_DIR) -> tuple[RealCase, ...]:
    """Every case of every file, validated; a bad file fails with its name and the field.

    Parsed once per content: the cache key is the files' names and bytes (read each call, a few
    milliseconds), so an edited file is parsed again and a stale corpus is never served. Why: the
    suite asks for the spent cases (thirteen directories) dozens of times; the old per-directory
    cache held four of them and re-parsed the rest every time (about ten seconds a call).
    """
    corpus_round = next((n for n, d in ROUND_DIRS.items() if d == directory), 1)
    files = tuple((path.name, path.read_bytes()) for path in sorted(directory.glob("real_*.yaml")))
    return _parsed_corpus(corpus_round, files)


@lru_cache(maxsize=64)
def _parsed_corpus(corpus_round: int, files: tuple[tuple[str, bytes], ...]) -> tuple[RealCase, ...]:
    cases: list[RealCase] = []
    for name, text in files:
        try:
            raw = yaml.load(text.decode(), Loader=YAML_LOADER)
            for case in raw["cases"]:
                case["corpus_round"] = corpus_round
            cases.extend(CorpusFile.model_validate(raw).cases)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{name}: {exc}") from exc
    return tuple(cases)


def cases_in(split: Split | None) -> list[RealCase]:
    """The cases of one split; ``None`` means all of round 1 (later rounds are asked for by name)."""
    if split in LOCKED_SETS:
        return list(load_corpus(LOCKED_SETS[split]))
    if split == "tuning":
        return spent_cases()
    return [c for c in load_corpus() if split is None or c.split == split]


def was_run(directory: Path) -> bool:
    """Whether the locked run of the corpus in ``directory`` is recorded in the ledger."""
    digest = corpus_digest(directory)
    return any(r["corpus_digest"] == digest for r in locked_runs())


def spent_cases() -> list[RealCase]:
    """Dev, plus every locked set whose one run is recorded: no longer unseen, so tunable."""
    cases = cases_in(None) if was_run(CASE_DIR) else cases_in("dev")
    for split, directory in LOCKED_SETS.items():
        if was_run(directory):
            cases += cases_in(split)
    return cases


def corpus_digest(directory: Path = CASE_DIR) -> str:
    """A hash of the corpus files, so a locked run names exactly what it ran on."""
    h = hashlib.sha256()
    for path in sorted(directory.glob("real_*.yaml")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def locked_runs() -> list[dict[str, object]]:
    if not LOCKED_LEDGER.exists():
        return []
    return [json.loads(line) for line in LOCKED_LEDGER.read_text().splitlines() if line.strip()]


def under_triage_steps(expected: TriageLevel, got: str) -> int:
    """How many levels less urgent than expected the answer was (0 when as urgent or more)."""
    return max(0, TRIAGE_ORDER.index(got) - TRIAGE_ORDER.index(expected))

"""The real-case corpus: its shape, and the safety bars no tuning may trade away.

Every emergency among the published cases comes out as an emergency, and no case is
under-triaged by two levels. The gate covers the dev split always, and the locked split
once its single recorded run exists (before that, looking at locked answers would unblind it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from services.cli.casefile import case_from_json
from services.intake.handlers import normalize_intake
from services.knowledge.validate import vocabulary
from services.pipeline.stages import intake_request
from services.platform.errors import InvalidInput
from tests.clinical.real_eval import RealCaseReport, evaluate_cases
from tests.clinical.realcases import (
    LOCKED_SETS,
    RealCase,
    Split,
    cases_in,
    load_corpus,
    spent_cases,
    under_triage_steps,
)


def _intake_refusal(case: RealCase) -> str | None:
    """What the intake says of the case's findings (the intake only: nothing is ranked, so this
    may run on a locked set before its one run), or None when it accepts them."""
    try:
        normalize_intake(intake_request(case_from_json(case.case_json())))
    except InvalidInput as refused:
        return str(refused)
    return None


def _gated_cases() -> list[RealCase]:
    """Dev always; each locked set once its single recorded run exists (not before: unblinding)."""
    return spent_cases()


@pytest.fixture(scope="module")
def report() -> RealCaseReport:
    return evaluate_cases(_gated_cases())


def test_corpus_is_broad_real_and_uses_known_ids() -> None:
    cases = load_corpus()
    vocab = vocabulary()
    assert len(cases) >= 150
    assert len({c.id for c in cases}) == len(cases)
    assert sum(c.is_emergency for c in cases) >= 25
    assert sum(c.athlete for c in cases) * 3 >= len(cases)
    per_condition = Counter(c.expected.condition for c in cases)
    thin = {c: per_condition[c] for c in vocab["conditions"] - {"other"} if per_condition[c] < 3}
    assert not thin, f"conditions with fewer than 3 real cases: {thin}"
    for c in cases:
        assert {f.id for f in c.evidence} <= vocab["findings"], c.id
        assert {c.expected.condition, *c.expected.acceptable} <= vocab["conditions"], c.id
        assert set(c.expected.first_tests) <= vocab["tests"], c.id


@pytest.mark.parametrize("split", list(LOCKED_SETS))
def test_a_later_round_is_new_sources_with_known_ids(split: Split) -> None:
    """A later round repeats no earlier source (else it would not be unseen) and uses only known ids."""
    later = cases_in(split)
    if not later:
        pytest.skip(f"{split} not committed yet")
    vocab = vocabulary()
    rounds = list(LOCKED_SETS)
    earlier = list(load_corpus()) + [c for s in rounds[: rounds.index(split)] for c in cases_in(s)]
    assert not {c.source_key for c in later} & {c.source_key for c in earlier}
    assert not {c.id for c in later} & {c.id for c in earlier}
    assert len({c.id for c in later}) == len(later)
    assert sum(c.is_emergency for c in later) >= 15
    for c in later:
        assert {f.id for f in c.evidence} <= vocab["findings"], c.id
        assert {c.expected.condition, *c.expected.acceptable} <= vocab["conditions"], c.id
        assert set(c.expected.first_tests) <= vocab["tests"], c.id
    # A locked run must not stop on a case the intake refuses (round 8's first run did: one case
    # gave its numbness as one-sided and its weakness as both-sided under the two laterality ids).
    refused = {c.id: why for c in later if (why := _intake_refusal(c)) is not None}
    assert not refused, refused


def test_split_is_by_source_and_about_a_third_locked() -> None:
    cases = load_corpus()
    locked = cases_in("locked")
    assert 0.2 <= len(locked) / len(cases) <= 0.45
    by_source: dict[str, set[str]] = {}
    for c in cases:
        by_source.setdefault(c.source_key, set()).add(c.split)
    assert all(len(splits) == 1 for splits in by_source.values())


def known_safety_misses() -> dict[str, dict[str, str]]:
    raw = yaml.safe_load((Path(__file__).parent / "known_safety_misses.yaml").read_text())
    return dict(raw["misses"] or {})


def test_every_emergency_is_triaged_emergency(report: RealCaseReport) -> None:
    """No emergency missed beyond the documented ratchet list; a fixed one must leave the list."""
    missed = {x.case.id: x.triage for x in report.outcomes if x.case.is_emergency and x.triage != "emergency"}
    gated = {x.case.id for x in report.outcomes}
    known = {case_id for case_id in known_safety_misses() if case_id in gated}
    assert report.figures()["emergencies"] >= 10
    assert set(missed) - known == set(), f"emergencies missed: {missed}"
    fixed = known - set(missed)
    assert fixed == set(), f"now triaged emergency, remove from known_safety_misses.yaml: {fixed}"
    recorded = known_safety_misses()
    for case_id, level in missed.items():  # a known miss may not get worse unnoticed
        assert level == recorded[case_id]["triaged"], (case_id, level, recorded[case_id]["triaged"])


def test_no_case_is_under_triaged_by_two_levels(report: RealCaseReport) -> None:
    """Two levels under (an emergency sent to routine care) only for a documented known miss."""
    two_down = {x.case.id for x in report.outcomes if under_triage_steps(x.case.expected.triage, x.triage) >= 2}
    assert two_down <= set(known_safety_misses()), report.misses()["under-triage"]

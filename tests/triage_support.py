"""What the first-contact triage tests (rounds 8 to 20) share: a picture of present findings run
through the intake, the ranking and the work-up in-process, read as a clinician reads it (the red
flags that fired, the triage level, the tests in order with their tier).  One copy, so a change
to how a picture is assessed reaches every round's tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base
from services.workup.domain import recommend_tests


def assess(*present: str, age: int = 45) -> tuple[set[str], str, list[tuple[str, str]]]:
    """Red flags fired, triage level and the work-up's (test, tier) in order."""
    kb = knowledge_base()
    items = [EvidenceInput(f, State.PRESENT) for f in present]
    normalized = normalize(kb, Patient(age=age), items)
    differential = rank(normalized.case)
    plan = recommend_tests(kb, normalized.case, differential)
    return (
        {hit.rule_id for hit in normalized.red_flags},
        differential.triage.level,
        [(t.test_id, t.tier) for t in plan.tests],
    )


def immediate_tests(tests: list[tuple[str, str]]) -> list[str]:
    """The immediate tier's tests, first first (what is ordered before the patient leaves)."""
    return [t for t, tier in tests if tier == "immediate"]


def assert_raised(picture: tuple[str, ...], age: int, rule: str, level: str) -> None:
    """A rule's picture fires the rule and comes out at the rule's level (the round tables' first half)."""
    flags, got, _ = assess(*picture, age=age)
    assert rule in flags
    assert got == level


def assert_not_raised(picture: tuple[str, ...], age: int, rule: str, level: str | None) -> None:
    """Its look-alike does not fire it and gets ``level`` instead (None: anything but an emergency)."""
    flags, got, _ = assess(*picture, age=age)
    assert rule not in flags
    if level is None:
        assert got != "emergency"
    else:
        assert got == level


def rule_table_tests(
    raised: Sequence[Any], not_raised: Sequence[Any]
) -> tuple[Callable[..., None], Callable[..., None]]:
    """A round's two table tests (its pictures raised; its look-alikes not), bound as the round module's
    ``test_...`` names so pytest collects them there: the tables are the round's, the checks are shared."""

    @pytest.mark.parametrize(("picture", "age", "rule", "level"), raised)
    def test_the_rules_picture_is_raised_to_its_level(
        picture: tuple[str, ...], age: int, rule: str, level: str
    ) -> None:
        assert_raised(picture, age, rule, level)

    @pytest.mark.parametrize(("picture", "age", "rule", "level"), not_raised)
    def test_the_look_alike_is_not_raised(picture: tuple[str, ...], age: int, rule: str, level: str | None) -> None:
        assert_not_raised(picture, age, rule, level)

    return test_the_rules_picture_is_raised_to_its_level, test_the_look_alike_is_not_raised

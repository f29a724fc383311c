"""``parse_evidence``'s fast path (every id known, every state set, no id twice) against the
item-by-item loop written out here: the same evidence in the same order, and every error a later
check raises names the same evidence field (docs/performance.md, eleventh pass)."""

from __future__ import annotations

import io
import random

import pytest

from services.cli.roster import parse_roster, synthesize, write_roster
from services.intake.domain import EvidenceInput, parse_evidence, validate
from services.intake.handlers import evidence_inputs
from services.knowledge.clinical import Patient, State
from services.knowledge.implications import implication_graph
from services.knowledge.loader import knowledge_base
from services.platform.errors import InvalidInput

KB = knowledge_base()
P, A = State.PRESENT, State.ABSENT


def loop_reference(items: list[EvidenceInput], prefix: str) -> tuple[dict[str, State], dict[str, str]]:
    """The item-by-item loop for valid input: each id's state and the field it came from."""
    evidence: dict[str, State] = {}
    origin: dict[str, str] = {}
    for i, item in enumerate(items):
        assert item.finding_id in KB.findings and item.state is not None
        evidence[item.finding_id] = item.state
        origin[item.finding_id] = f"{prefix}[{i}]"
    return evidence, origin


def roster_items(n: int) -> list[list[EvidenceInput]]:
    text = io.StringIO()
    write_roster(synthesize(KB, n, 11), text)
    return [
        evidence_inputs(entry.evidence)
        for entry in parse_roster(text.getvalue()).entries
    ]


def fields(raised: pytest.ExceptionInfo[InvalidInput]) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in raised.value.violations]


def test_roster_athletes_parse_as_the_loop_does_in_order_with_every_origin() -> None:
    checked = 0
    for items in roster_items(60):
        if len({i.finding_id for i in items}) != len(items):
            continue
        evidence, origin, problems = parse_evidence(KB, items, "items[3].evidence")
        want_evidence, want_origin = loop_reference(items, "items[3].evidence")
        assert problems == []
        assert list(evidence.items()) == list(want_evidence.items())
        assert {f: origin[f] for f in want_origin} == want_origin
        with pytest.raises(KeyError):
            origin["not_a_finding"]
        checked += 1
    assert checked >= 50


def test_a_contradiction_names_both_fields_wherever_they_sit() -> None:
    rng = random.Random(5)
    rule = KB.exclusive_pairs[0]
    a, b = rule.pair
    filler = [f for f in KB.findings if f not in (a, b) and KB.findings[f].age_above is None]
    for _ in range(20):
        items = [EvidenceInput(f, A) for f in rng.sample(filler, 12)]
        i, j = sorted(rng.sample(range(len(items) + 2), 2))
        items.insert(i, EvidenceInput(a, P))
        items.insert(j, EvidenceInput(b, P))
        with pytest.raises(InvalidInput) as raised:
            validate(KB, Patient(), items, prefix="items[2].")
        named = [f for f, _ in fields(raised)]
        assert f"items[2].evidence[{j}]" in named
        assert any(f"items[2].evidence[{i}]" in d for _, d in fields(raised))


def test_an_implication_clash_and_an_age_clash_name_the_item_fields() -> None:
    graph = implication_graph(KB)
    child = next(c for c, parents in graph.ancestors.items() if parents)
    parent = sorted(graph.ancestors[child])[0]
    items = [EvidenceInput("loc_sole", P), EvidenceInput(parent, A), EvidenceInput(child, P)]
    items = [x for x in items if x.finding_id not in (parent, child)][:1] + items[1:]
    with pytest.raises(InvalidInput) as raised:
        validate(KB, Patient(), items)
    assert fields(raised)[0][0] == "evidence[2]"
    assert "evidence[1]" in fields(raised)[0][1]
    stand_in, age_above = next((f.id, f.age_above) for f in KB.findings.values() if f.age_above is not None)
    items = [EvidenceInput("loc_sole", P), EvidenceInput(stand_in, A)]
    with pytest.raises(InvalidInput) as raised:
        validate(KB, Patient(age=age_above + 10), items)
    assert [f for f, _ in fields(raised)] == ["evidence[1]"]


def test_what_the_fast_path_refuses_still_gets_the_loops_errors() -> None:
    with pytest.raises(InvalidInput) as raised:
        bad = [EvidenceInput("loc_sole", P), EvidenceInput("nope", P), EvidenceInput("loc_sole", None)]
        validate(KB, Patient(), bad)
    assert [f for f, _ in fields(raised)] == ["evidence[1].finding_id", "evidence[2].state"]
    case = validate(KB, Patient(), [EvidenceInput("loc_sole", P), EvidenceInput("loc_sole", P)])
    assert case.evidence["loc_sole"] is P

"""Regression bars on the team's own vignettes (written in the knowledge base's terms, so a
consistency check of the engine's logic, not accuracy — that is tests/clinical/test_real_cases.py):
every emergency comes out as an emergency; top-3 >= 90%; the first test matches the vignette's in
>= 85%; the "holdout" files (team-written, patched after their run) hold the same safety bars."""

from __future__ import annotations

import pytest
import yaml

from services.knowledge.validate import vocabulary
from tests.clinical.evaluate import Report, evaluate, load_vignettes


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(load_vignettes())


def test_the_vignette_set_is_broad_and_grounded() -> None:
    vignettes = load_vignettes()
    vocab = vocabulary()
    assert len(vignettes) >= 60
    assert len({v["id"] for v in vignettes}) == len(vignettes)
    assert vocab["conditions"] - {"other"} <= {v["expected"]["condition"] for v in vignettes}
    assert sum(v["expected"]["triage"] == "emergency" for v in vignettes) >= 12
    assert sum(v.get("difficulty") == "hard" for v in vignettes) >= 6
    for v in vignettes:
        assert v["source"] and v["source_basis"], v["id"]
        assert {e["id"] for e in v["evidence"]} <= vocab["findings"], v["id"]


def test_no_emergency_is_under_triaged(report: Report) -> None:
    assert report.emergencies_caught == report.emergencies, report.under_triage


def test_top3_at_least_90_percent(report: Report) -> None:
    figures = report.figures()
    assert figures["top3"] >= 0.90, report.misses


def test_no_vignette_is_under_triaged(report: Report) -> None:
    assert not report.under_triage


def test_first_test_matches_in_at_least_85_percent(report: Report) -> None:
    assert report.figures()["first_test_match"] >= 0.85, report.test_misses


def test_holdout_vignettes_hold_the_safety_bars() -> None:
    holdout = load_vignettes(holdout=True)
    assert len(holdout) >= 6
    result = evaluate(holdout)
    assert result.emergencies >= 3 and result.emergencies_caught == result.emergencies
    assert not result.under_triage
    assert result.figures()["top3"] >= 0.90, result.misses


def test_interviews_reach_the_right_leader_with_few_questions(report: Report) -> None:
    figures = report.figures()
    assert figures["interview_right_leader"] >= 0.80
    assert figures["interview_mean_questions"] < figures["interview_mean_findings_available"] / 3


def test_vignette_file_is_yaml_with_expected_fields() -> None:
    for v in load_vignettes():
        assert set(v["expected"]) >= {"condition", "triage", "first_test"}
        yaml.safe_dump(v)

"""Intake normalization: findings kept, unknowns kept unknown, every problem named."""

from __future__ import annotations

import pytest

from services.intake.domain import AnswerInput, EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base
from services.platform.errors import InvalidInput

KB = knowledge_base()
P = State.PRESENT


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [v.field for v in exc.value.violations]


def test_explicit_evidence_is_kept_with_unknowns_unknown() -> None:
    result = normalize(KB, Patient(age=30), [EvidenceInput("loc_sole", P), EvidenceInput("sx_burning", State.UNKNOWN)])
    # hx_age_over_50 is derived from the age (docs/ranking.md, "Age is counted once").
    assert result.case.evidence == {"loc_sole": P, "sx_burning": State.UNKNOWN, "hx_age_over_50": State.ABSENT}


def test_questionnaire_answers_become_findings() -> None:
    question = next(q for q in KB.questions if any(o.sets_present for o in q.options))
    option = next(o for o in question.options if o.sets_present)
    result = normalize(KB, Patient(), [], [AnswerInput(question.id, (option.id,))])
    assert all(result.case.evidence[f] is P for f in option.sets_present)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize(
            KB,
            Patient(age=-3, flags=frozenset({"x_ray_vision"})),
            [EvidenceInput("loc_moon", P), EvidenceInput("loc_sole", None)],
            [AnswerInput("q_nope", ("a",))],
        )
    assert fields(raised) == [
        "patient.age_years", "patient.context_flags[0]", "evidence[0].finding_id",
        "evidence[1].state", "answers[0].question_id",
    ]


@pytest.mark.parametrize(("a", "b"), [("unilateral", "bilateral"), ("onset_sudden", "onset_gradual")])
def test_contradictions_are_rejected_naming_both(a: str, b: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize(KB, Patient(), [EvidenceInput(a, P), EvidenceInput(b, P)])
    assert fields(raised) == ["evidence[1]"]
    assert "evidence[0]" in raised.value.violations[0].description


def test_same_finding_with_two_states_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize(KB, Patient(), [EvidenceInput("loc_sole", P), EvidenceInput("loc_sole", State.ABSENT)])
    assert fields(raised) == ["evidence[1].state"]


def test_empty_and_all_unknown_intakes_are_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize(KB, Patient(), [])
    assert fields(raised) == ["evidence"]
    with pytest.raises(InvalidInput):
        normalize(KB, Patient(), [EvidenceInput("loc_sole", State.UNKNOWN)])


def test_red_flags_are_detected_at_intake() -> None:
    evidence = [EvidenceInput("sx_bladder_bowel_dysfunction", P), EvidenceInput("loc_saddle_area", P)]
    result = normalize(KB, Patient(), evidence)
    assert result.red_flags and all(h.level == "emergency" for h in result.red_flags[:1])
    assert any("cauda_equina_syndrome" in h.suspect for h in result.red_flags)


def test_tight_laces_fire_no_red_flag() -> None:
    result = normalize(KB, Patient(age=29), [EvidenceInput(f, P) for f in
                       ("loc_dorsum_foot", "during_running_only", "hx_tight_lacing", "relieved_by_removing_shoes")])
    assert result.red_flags == ()


def test_history_of_diabetes_sets_the_diabetes_context_flag() -> None:
    result = normalize(KB, Patient(), [EvidenceInput("hx_diabetes", P)])
    assert "diabetes" in result.case.patient.flags

"""Bayesian ranking: probabilities, explanations, triage and the next question."""

from __future__ import annotations

from typing import Unpack

import numpy as np

from services.differential.interview import next_question
from services.differential.ranking import (
    default_model,
    posterior,
    posterior_batch,
    rank,
    rank_batch,
)
from services.knowledge.clinical import Case, Patient, State
from tests.patients import PatientFields

P, A = State.PRESENT, State.ABSENT


def case(*present: str, absent: tuple[str, ...] = (), **patient: Unpack[PatientFields]) -> Case:
    evidence = {f: P for f in present} | {f: A for f in absent}
    return Case(Patient(**patient), evidence)


LACES = case("loc_dorsum_foot", "during_running_only", "hx_tight_lacing", "relieved_by_removing_shoes", age=29)


def test_probabilities_sum_to_one_and_are_sorted() -> None:
    d = rank(LACES)
    probs = [c.probability for c in d.conditions]
    assert abs(sum(probs) - 1) < 1e-9 and probs == sorted(probs, reverse=True)
    assert len(d.conditions) == len(default_model().condition_ids)


def test_the_answer_changes_when_the_evidence_changes() -> None:
    assert rank(LACES).conditions[0].condition_id == "footwear_compression"
    tarsal = case("loc_sole", "loc_heel", "worse_at_night", "ex_tinel_tarsal_tunnel", "unilateral", age=45)
    assert rank(tarsal).conditions[0].condition_id == "tarsal_tunnel"


def test_unknown_findings_are_ignored() -> None:
    with_unknown = Case(LACES.patient, {**LACES.evidence, "sx_weakness": State.UNKNOWN})
    assert np.allclose(posterior(with_unknown), posterior(LACES))


def test_explanations_carry_signed_weights() -> None:
    leader = rank(LACES).conditions[0]
    assert leader.evidence_for and all(w.llr > 0 for w in leader.evidence_for)
    assert "hx_tight_lacing" in {w.finding_id for w in leader.evidence_for}
    assert leader.decisive_findings and leader.icd10cm


def test_red_flag_always_wins_triage() -> None:
    # A runner with laces and bladder dysfunction: the ranking may lead with laces, triage must not.
    d = rank(case(*LACES.present(), "sx_bladder_bowel_dysfunction", age=29))
    assert d.triage.level == "emergency"
    assert d.triage.reasons[0].startswith("Red flag")
    assert "cauda_equina_syndrome" in {c.condition_id for c in d.dont_miss}


def test_setting_and_age_shift_the_priors() -> None:
    claudication = case("loc_calf", "sx_cramping_calf", "relieved_by_rest", "during_running_only")
    young = posterior(Case(Patient(age=24), claudication.evidence))
    old = posterior(Case(Patient(age=72, setting="general_adult"), claudication.evidence))
    pad = default_model().condition_ids.index("peripheral_arterial_disease")
    assert old[pad] > young[pad]


def test_batch_equals_one_by_one() -> None:
    cases = [LACES, case("loc_saddle_area", "sx_bladder_bowel_dysfunction", "bilateral"), case("loc_toes", age=60)]
    batch = posterior_batch(cases)
    for row, c in zip(batch, cases, strict=True):
        assert np.allclose(row, posterior(c))
    assert [d.triage.level for d in rank_batch(cases)] == [rank(c).triage.level for c in cases]


def test_next_question_asks_something_unknown_and_stops_when_clear() -> None:
    start = case("loc_toes_3_4_web")
    q = next_question(start)
    assert q.finding_id not in start.evidence and q.expected_gain > 0 and not q.should_stop
    clear = next_question(case("loc_toes_3_4_web", "ex_mulder_click", "sx_pebble_or_lump_sensation",
                               "ex_web_space_tenderness", "loc_ball_of_foot", "sx_burning", age=45, sex="female"))
    assert clear.should_stop and clear.leader_id == "mortons_neuroma"


def test_an_interview_answered_i_dont_know_stops_before_the_question_cap() -> None:
    """A tablet patient who cannot answer is not asked 30 questions; one who answers is."""
    start = case("loc_dorsum_foot", "sx_tingling")
    declined: list[str] = []
    for _ in range(30):
        q = next_question(start, prioritize_dont_miss=True, exclude=declined)
        if q.should_stop:
            break
        assert q.finding_id is not None
        declined.append(q.finding_id)
    assert q.should_stop and "unlikely to be answered" in q.stop_reason
    assert 3 <= len(declined) < 20
    # The same gain with every question answered so far keeps the interview going.
    answered = case("loc_dorsum_foot", "sx_tingling", *declined[:2], absent=tuple(declined[2:]))
    assert not next_question(answered, prioritize_dont_miss=True).stop_reason.startswith("the remaining")

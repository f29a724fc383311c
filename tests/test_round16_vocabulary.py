"""Round-16 vocabulary (r16vocab): ``hx_knee_dislocation``, agreed with the round-16 case writers before they wrote
("a knee (tibiofemoral) dislocation, even one reduced before arrival, or a multi-ligament knee injury"; they record
``hx_knee_injury_or_surgery`` as well, and a patellar dislocation is not a knee dislocation).

Earlier writers left knee dislocations in ``unmapped`` and recorded only a knee injury, so a bicruciate tear with pulses
still present (rc_at021) was triaged urgent. A knee dislocation is an emergency because its popliteal artery injury
must be excluded by the pulses and the ankle-brachial index (Mills 2004; Boyce 2015): the rule is checked on its
picture and on its near misses (a kneecap that slipped out, an old multi-ligament injury seen weeks later), the rows
move the ranking the way their sources say, the tablet asks it in plain words and the gRPC services act on it. The
hand-curated counterfactual on the spent cases (devtools.unmapped_sensitivity --round 16) must lose no emergency.
"""

from __future__ import annotations

import re

import pytest
import yaml
from footcds.v1 import common_pb2

from devtools.suite import LocalSuite
from services.knowledge.loader import DATA_DIR, knowledge_base
from tests import vocabulary_support
from tests.clinical.realcases import spent_cases

KNEE = "hx_knee_dislocation"
RULE = "rf_knee_dislocation_vascular_assessment"
# Words a patient would not be expected to know: the tablet's question must not lean on them.
JARGON = re.compile(r"cruciate|collateral|tibiofemoral|multi-?ligament|patell|popliteal|reduc", re.I)
# A young athlete's knee injury with a numb, weak foot: the fibular nerve and the artery are both in play.
FOOT_DROP = ("onset_sudden", "unilateral", "sx_foot_drop", "sx_weakness", "loc_dorsum_foot",
             "ex_reduced_light_touch_pinprick")


def assess(*present: str, age: int = 22, absent: tuple[str, ...] = ()) -> tuple[set[str], str, list[str], str]:
    return vocabulary_support.assess(*present, age=age, absent=absent)


def probability(condition: str, *present: str, age: int = 22) -> float:
    return vocabulary_support.probability(condition, *present, age=age)


# --- vocabulary, finding, implication, rows


def test_the_agreed_id_is_in_the_history_group_after_the_round14_ids() -> None:
    history = yaml.safe_load((DATA_DIR.parent / "vocabulary.yaml").read_text())["findings"]["history"]
    assert history.index(KNEE) == history.index("hx_anticoagulant_or_bleeding_disorder") + 1


def test_the_id_has_a_plain_question_a_rare_background_and_cited_rows() -> None:
    kb = knowledge_base()
    finding = kb.findings[KNEE]
    assert finding.group == "history"
    assert finding.question_patient.endswith("?") and finding.question_clinician.endswith("?")
    assert not JARGON.search(finding.question_patient), finding.question_patient
    assert "kneecap" in finding.question_patient  # the patellar dislocation is named as a different injury
    assert 0 < finding.background < 0.01
    rows = {c: rows[KNEE] for c, rows in kb.likelihoods.items() if KNEE in rows}
    assert {"acute_limb_ischemia", "traumatic_nerve_injury", "common_fibular_neuropathy",
            "acute_compartment_syndrome"} <= set(rows)
    for condition, row in rows.items():
        assert row.citations and row.estimate_reason, condition
        knee_injury = kb.likelihoods[condition].get("hx_knee_injury_or_surgery")
        ceiling = knee_injury.p if knee_injury else kb.findings["hx_knee_injury_or_surgery"].background
        assert row.p <= ceiling, condition  # a dislocation is one kind of knee injury


def test_a_knee_dislocation_records_the_knee_injury_the_writers_also_record() -> None:
    """The implication: the intake adds the knee injury, so every knee-injury rule and test ordering still sees it."""
    from services.intake.domain import EvidenceInput, normalize
    from services.knowledge.clinical import Patient, State

    case = normalize(knowledge_base(), Patient(age=22), [EvidenceInput(KNEE, State.PRESENT)]).case
    assert case.evidence["hx_knee_injury_or_surgery"] is State.PRESENT


def test_the_tablet_interview_asks_about_a_knee_dislocation_in_plain_words() -> None:
    """After a knee injury with a painful swollen leg the tablet asks whether the joint itself came out (the artery and
    the compartment are at stake). With a foot drop after the knee injury it need not: the knee-injury weakness rule
    already makes that picture an emergency with the arterial test first."""
    wording = vocabulary_support.interview_asks(22, ("hx_knee_injury_or_surgery", "onset_sudden", "unilateral",
                                                     "sx_leg_pain", "sx_swelling"), watch=(KNEE,))
    assert "come out of place" in wording[KNEE] and "kneecap" in wording[KNEE]


def test_the_grpc_services_accept_the_id_and_triage_a_knee_dislocation_as_an_emergency(suite: LocalSuite) -> None:
    assert KNEE in vocabulary_support.intake_keeps(suite, (KNEE,))
    assessment = vocabulary_support.assess_over_grpc(suite, KNEE, "onset_sudden", "unilateral", "sx_tingling",
                                                     "loc_dorsum_foot", age=22)
    assert assessment.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY
    assert RULE in {f.rule_id for f in assessment.triage.red_flags}
    assert assessment.tests[0].test_id in {"arterial_duplex", "ankle_brachial_index"}
    assert "decision support" in assessment.disclaimer.lower()


# --- the rows move the ranking the way their sources say


def test_a_dislocation_raises_the_artery_and_the_nerve_above_a_knee_injury_alone() -> None:
    injury = ("hx_knee_injury_or_surgery", *FOOT_DROP)
    for condition in ("acute_limb_ischemia", "traumatic_nerve_injury"):
        assert probability(condition, KNEE, *injury) > probability(condition, *injury), condition
    assert probability("lumbar_radiculopathy", KNEE, *injury) < probability("lumbar_radiculopathy", *injury)


def test_the_dislocation_favours_the_artery_over_the_nerve_more_than_a_knee_injury_does() -> None:
    """A popliteal artery injury after knee trauma is almost always a dislocation; a nerve injury also follows sprains,
    fractures and operations (huc18, niall05, natsuhara14)."""
    injury = ("hx_knee_injury_or_surgery", *FOOT_DROP)

    def odds(*present: str) -> float:
        return probability("acute_limb_ischemia", *present) / probability("traumatic_nerve_injury", *present)

    assert odds(KNEE, *injury) > odds(*injury)


# --- the rule, on its picture and its near misses


@pytest.mark.parametrize("picture", [
    pytest.param(("onset_sudden", "unilateral"), id="alone"),
    pytest.param(("onset_sudden", "unilateral", "sx_tingling", "loc_dorsum_foot"), id="numb_foot_pulses_not_recorded"),
    pytest.param(FOOT_DROP, id="foot_drop"),
    pytest.param(("onset_gradual", "unilateral", "sx_tingling", "sx_cold_foot"), id="gradual_but_cold_foot"),
])
def test_a_knee_dislocation_is_an_emergency_with_the_artery_checked_first(picture: tuple[str, ...]) -> None:
    rules, level, ranked, first = assess(KNEE, *picture)
    assert RULE in rules and level == "emergency"
    assert "acute_limb_ischemia" in ranked[:5]
    assert first in {"arterial_duplex", "ankle_brachial_index"}


def test_a_pulseless_cold_foot_after_a_dislocation_puts_limb_ischaemia_first() -> None:
    rules, level, ranked, first = assess(KNEE, "onset_sudden", "unilateral", "ex_diminished_pedal_pulses",
                                         "sx_cold_foot", "sx_pallor_or_cyanosis")
    assert RULE in rules and level == "emergency"
    assert ranked[0] == "acute_limb_ischemia" and first == "arterial_duplex"


def test_a_kneecap_dislocation_recorded_as_a_knee_injury_fires_no_dislocation_rule() -> None:
    """A patellar dislocation is a knee injury, not a knee dislocation (simon24_kd): this rule stays silent."""
    rules, _, _, _ = assess("hx_knee_injury_or_surgery", "onset_sudden", "unilateral", "sx_leg_pain", "sx_swelling",
                            age=16)
    assert RULE not in rules


def test_an_old_multiligament_injury_with_a_gradual_numbness_and_no_ischaemic_sign_is_not_this_emergency() -> None:
    rules, level, _, _ = assess(KNEE, "onset_gradual", "unilateral", "sx_tingling", "loc_dorsum_foot", age=30)
    assert RULE not in rules and level != "emergency"


# --- the counterfactual on the spent cases


def test_the_hand_curated_cases_are_real_knee_dislocations_the_writers_left_unmapped() -> None:
    from devtools.unmapped_sensitivity import round16_ids

    mapped = {c.id: c for c in spent_cases() if round16_ids(c)}
    assert len(mapped) == 12
    for cid, case in mapped.items():
        assert "hx_knee_injury_or_surgery" in {f.id for f in case.evidence} or "knee" in " ".join(case.unmapped), cid
        assert not re.search(r"patell|kneecap", " ".join(case.unmapped), re.I), cid


def test_with_the_knee_dislocations_mapped_no_spent_emergency_is_lost_and_none_is_under_triaged() -> None:
    from devtools.unmapped_sensitivity import run

    figures = run(show_cases=False, vocabulary_round=16)["all"]
    assert figures["emergencies_lost"] == 0
    assert figures["after"]["caught"] == figures["emergencies"]
    assert figures["after"]["under"] == 0

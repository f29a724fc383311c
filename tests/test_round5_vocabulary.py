"""Round-5 vocabulary (r5vocab): the ten finding ids agreed with the round-5 case writers before
they wrote.  Each is accepted by the intake, moves the ranking the way its cited rows say, and the
published pathways act on it: pain out of proportion after an injury or exertion is a suspected
acute compartment syndrome (BOAST 10); sudden one-sided arm-and-leg numbness is the stroke pathway
(BE-FAST); gangrene is urgent vascular (GVG 2019) and an emergency with an acute ischaemic picture
(ESVS 2020), in diabetes (NICE NG19) or after cold (WMS 2019); claudication alone is not an emergency.
"""

from __future__ import annotations

import grpc
import pytest
from footcds.v1 import common_pb2, encounter_pb2_grpc, intake_pb2, intake_pb2_grpc

from devtools.suite import LocalSuite
from services.cli.casefile import case_from_json
from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base
from tests import vocabulary_support

ROUND5_IDS = (
    "sx_leg_pain",
    "sx_foot_pain",
    "sx_pain_out_of_proportion",
    "sx_claudication",
    "sx_lhermitte",
    "sx_leg_gives_way_or_falls",
    "sx_weight_loss",
    "loc_one_side_of_body",
    "ex_digit_necrosis",
    "hx_leg_blow_or_muscle_tear",
)


def assess(*present: str, age: int = 45, absent: tuple[str, ...] = ()) -> tuple[set[str], str, list[str]]:
    items = [EvidenceInput(f, State.PRESENT) for f in present] + [EvidenceInput(f, State.ABSENT) for f in absent]
    normalized = normalize(knowledge_base(), Patient(age=age), items)
    differential = rank(normalized.case)
    ranked = [c.condition_id for c in differential.conditions]
    return {hit.rule_id for hit in normalized.red_flags}, differential.triage.level, ranked


def probability(condition: str, *present: str, age: int = 45) -> float:
    return vocabulary_support.probability(condition, *present, age=age)


def test_every_agreed_id_is_a_finding_with_questions_a_background_and_cited_rows() -> None:
    kb = knowledge_base()
    findings = kb.findings
    cited_rows = {finding for rows in kb.likelihoods.values() for finding, row in rows.items() if row.citations}
    for fid in ROUND5_IDS:
        finding = findings[fid]
        assert finding.question_patient.endswith("?") and finding.question_clinician.endswith("?"), fid
        assert 0 < finding.background < 0.5, fid
        assert fid in cited_rows, fid


def test_pain_out_of_proportion_after_a_blow_is_a_compartment_syndrome_emergency() -> None:
    picture = ("loc_leg_below_knee", "sx_leg_pain", "sx_swelling", "sx_tingling")
    flags, level, ranked = assess(*picture, "sx_pain_out_of_proportion", "hx_leg_blow_or_muscle_tear", age=24)
    assert "rf_pain_out_of_proportion_after_injury" in flags
    assert level == "emergency"
    assert ranked[0] == "acute_compartment_syndrome"
    with_pain = probability("acute_compartment_syndrome", *picture, "sx_pain_out_of_proportion", age=24)
    without = probability("acute_compartment_syndrome", *picture, age=24)
    assert with_pain > without


def test_pain_out_of_proportion_alone_fires_no_compartment_rule() -> None:
    flags, _, _ = assess("loc_dorsum_foot", "sx_tingling", "sx_pain_out_of_proportion", age=30)
    assert not any(f.startswith("rf_pain_out_of_proportion") for f in flags)


def test_exertional_pain_out_of_proportion_is_an_emergency_unless_it_settles_with_rest() -> None:
    picture = ("loc_leg_below_knee", "sx_pain_out_of_proportion", "during_running_only", "sx_calf_tightness")
    flags, level, _ = assess(*picture, age=25)
    assert "rf_pain_out_of_proportion_after_exertion" in flags and level == "emergency"
    flags_rest, level_rest, _ = assess(*picture, "relieved_by_rest", age=25)
    assert "rf_pain_out_of_proportion_after_exertion" not in flags_rest
    assert level_rest != "emergency"


def test_tense_compartment_or_passive_stretch_pain_after_a_muscle_tear_is_an_emergency() -> None:
    flags, level, _ = assess("loc_calf", "hx_leg_blow_or_muscle_tear", "ex_tense_compartment")
    assert "rf_tense_compartment_after_blow_or_tear" in flags and level == "emergency"
    flags, level, _ = assess("loc_calf", "hx_leg_blow_or_muscle_tear", "ex_pain_on_passive_stretch")
    assert "rf_passive_stretch_after_blow_or_tear" in flags and level == "emergency"


def test_a_blow_with_new_weakness_is_seen_within_48_hours_at_least() -> None:
    flags, level, _ = assess("loc_dorsum_foot", "hx_leg_blow_or_muscle_tear", "sx_weakness")
    assert "rf_motor_deficit_after_limb_injury" in flags
    assert level in ("urgent", "emergency")


def test_sudden_one_sided_arm_and_leg_numbness_is_the_stroke_pathway() -> None:
    flags, level, ranked = assess("onset_sudden", "loc_one_side_of_body", "sx_tingling", age=68)
    assert "rf_sudden_one_side_of_body" in flags
    assert level == "emergency"
    assert ranked[0] == "stroke"


def test_gradual_one_sided_numbness_is_urgent_not_a_stroke_call() -> None:
    flags, level, ranked = assess("onset_gradual", "loc_one_side_of_body", "sx_tingling", age=40)
    assert "rf_sudden_one_side_of_body" not in flags and "rf_one_side_of_body" in flags
    assert level == "urgent"
    assert {"multiple_sclerosis", "stroke"} & set(ranked[:3])


def test_digit_necrosis_is_urgent_vascular_and_an_emergency_when_acute_diabetic_or_after_cold() -> None:
    flags, level, ranked = assess("loc_toes", "ex_digit_necrosis", "hx_smoking", age=70)
    assert "rf_digit_necrosis" in flags and level == "urgent"
    assert ranked[0] == "peripheral_arterial_disease"
    flags, level, ranked = assess("loc_toes", "ex_digit_necrosis", "onset_sudden", "sx_cold_foot", age=70)
    assert "rf_digit_necrosis_acute_ischaemia" in flags and level == "emergency"
    assert "acute_limb_ischemia" in ranked[:3]
    flags, level, _ = assess("loc_toes", "ex_digit_necrosis", "hx_diabetes", age=70)
    assert "rf_digit_necrosis_diabetes" in flags and level == "emergency"
    flags, level, ranked = assess("loc_toes", "ex_digit_necrosis", "hx_cold_exposure", age=35)
    assert "rf_digit_necrosis_after_cold" in flags and level == "emergency"
    assert ranked[0] == "frostbite"


def test_claudication_alone_is_not_an_emergency_and_raises_pad() -> None:
    risk = ("loc_calf", "hx_smoking", "hx_hypertension_hyperlipidemia")
    flags, level, ranked = assess(*risk, "sx_claudication", age=70)
    assert level != "emergency" and not flags
    assert ranked[0] == "peripheral_arterial_disease"
    assert probability("peripheral_arterial_disease", *risk, "sx_claudication", age=70) > probability(
        "peripheral_arterial_disease", *risk, age=70
    )


def test_lhermitte_moves_multiple_sclerosis_to_the_lead() -> None:
    picture = ("sx_tingling", "loc_leg_below_knee", "sx_fatigue")
    assert assess(*picture, "sx_lhermitte", age=32)[2][0] == "multiple_sclerosis"
    assert probability("multiple_sclerosis", *picture, "sx_lhermitte", age=32) > 2 * probability(
        "multiple_sclerosis", *picture, age=32
    )


def test_weight_loss_counts_against_a_disc_and_for_a_fibular_palsy() -> None:
    sciatica = ("sx_back_pain", "sx_radiating_leg_pain", "loc_lateral_leg", "loc_dorsum_foot")
    assert probability("lumbar_radiculopathy", *sciatica, "sx_weight_loss") < probability(
        "lumbar_radiculopathy", *sciatica
    )
    assert probability("common_fibular_neuropathy", *sciatica, "sx_weight_loss") > probability(
        "common_fibular_neuropathy", *sciatica
    )


def test_falls_raise_the_central_and_motor_causes_over_a_footwear_cause() -> None:
    picture = ("bilateral", "sx_tingling")
    with_falls = assess(*picture, "sx_leg_gives_way_or_falls", age=60)[2]
    assert probability("guillain_barre", *picture, "sx_leg_gives_way_or_falls", age=60) > probability(
        "guillain_barre", *picture, age=60
    )
    assert probability("footwear_compression", *picture, "sx_leg_gives_way_or_falls", age=60) < probability(
        "footwear_compression", *picture, age=60
    )
    assert with_falls  # ranked, no contradiction


def test_foot_pain_and_leg_pain_point_to_their_own_sites() -> None:
    forefoot = ("loc_ball_of_foot", "loc_toes_3_4_web", "sx_foot_pain")
    assert assess(*forefoot)[2][0] == "mortons_neuroma"
    assert probability(
        "acute_compartment_syndrome", "loc_leg_below_knee", "sx_leg_pain", "hx_leg_blow_or_muscle_tear"
    ) > (probability("acute_compartment_syndrome", "loc_leg_below_knee", "hx_leg_blow_or_muscle_tear"))


@pytest.mark.e2e
def test_the_grpc_intake_and_encounter_accept_the_round5_ids(suite: LocalSuite) -> None:
    assert vocabulary_support.intake_keeps(suite, ROUND5_IDS) >= set(ROUND5_IDS)
    with suite.channel("intake") as channel:
        intake = intake_pb2_grpc.IntakeServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            intake.NormalizeIntake(
                intake_pb2.NormalizeIntakeRequest(
                    evidence=[
                        common_pb2.Evidence(finding_id="sx_leg_pain_typo", state=common_pb2.EVIDENCE_STATE_PRESENT)
                    ]
                ),
                timeout=10,
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with suite.channel("encounter") as channel:
        encounter = encounter_pb2_grpc.EncounterServiceStub(channel)
        request = case_from_json(
            {
                "patient": {"age": 24, "activity": "football"},
                "evidence": [
                    {"id": f, "state": "present"}
                    for f in (
                        "loc_leg_below_knee",
                        "sx_leg_pain",
                        "sx_pain_out_of_proportion",
                        "hx_leg_blow_or_muscle_tear",
                    )
                ],
            }
        )
        assessment = encounter.Assess(request, timeout=20).assessment
        assert assessment.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY
        assert "rf_pain_out_of_proportion_after_injury" in {f.rule_id for f in assessment.triage.red_flags}
        assert assessment.differential.conditions[0].condition_id == "acute_compartment_syndrome"
        assert "decision support" in assessment.disclaimer.lower()

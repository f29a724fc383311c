"""Round-9 vocabulary (r9kb): the five finding ids agreed with the round-9 case writers before they
wrote (sx_arm_weakness, ex_palpable_mass, ex_positive_romberg, hx_vasoconstrictor_drug, hx_cancer).

Each moves the ranking the way its cited rows say, and the published pathways act on it: known cancer
with back pain and a neurological deficit, or a sensory level, is suspected metastatic spinal cord
compression (NICE CG75 / NG234: an oncological emergency, whole-spine MRI); arm weakness with a
progressing or areflexic leg weakness is Guillain-Barre until proven otherwise (Leonhard 2019);
sudden arm weakness is the stroke pathway (BE-FAST); a vasoconstrictor drug with a sudden cold, pale
foot is acute limb ischaemia (ESVS 2020). Each rule is checked on its picture and on its near miss.
"""

from __future__ import annotations

import pytest
from footcds.v1 import common_pb2

from devtools.suite import LocalSuite
from services.knowledge.loader import knowledge_base
from tests import vocabulary_support

ROUND9_IDS = ("sx_arm_weakness", "ex_palpable_mass", "ex_positive_romberg", "hx_vasoconstrictor_drug", "hx_cancer")


def assess(*present: str, age: int = 50) -> tuple[set[str], str, list[str], str]:
    return vocabulary_support.assess(*present, age=age)


def probability(condition: str, *present: str, age: int = 50) -> float:
    return vocabulary_support.probability(condition, *present, age=age)


def test_every_agreed_id_has_cited_rows_and_acts_in_a_rule() -> None:
    kb = knowledge_base()
    cited = {f for rows in kb.likelihoods.values() for f, row in rows.items() if row.citations}
    in_rules = {f for rule in kb.red_flags for f in (*rule.all_of, *rule.any_of)}
    for fid in ROUND9_IDS:
        assert fid in cited, fid
    for fid in ("sx_arm_weakness", "ex_positive_romberg", "hx_vasoconstrictor_drug", "hx_cancer"):
        assert fid in in_rules, fid


# --- known cancer: metastatic spinal cord compression (NICE CG75 / NG234)


def test_cancer_with_back_pain_and_leg_weakness_is_an_mscc_emergency_imaging_the_whole_spine() -> None:
    rules, level, ranked, first = assess("hx_cancer", "sx_back_pain", "sx_weakness", "sx_tingling", age=66)
    assert "rf_cancer_back_pain_neuro_deficit" in rules
    assert level == "emergency"
    assert "spinal_cord_injury" in ranked[:3]
    assert first == "mri_brain_spine"


def test_cancer_with_radicular_pain_and_foot_drop_images_the_whole_spine_before_the_lumbar_spine() -> None:
    picture = ("sx_back_pain", "sx_radiating_leg_pain", "sx_foot_drop", "unilateral", "sx_tingling")
    _, _, _, first_without = assess(*picture, age=60)
    rules, level, _, first = assess("hx_cancer", *picture, age=60)
    assert "rf_cancer_back_pain_neuro_deficit" in rules and level == "emergency"
    assert first == "mri_brain_spine"
    assert first_without == "mri_lumbar_spine"  # the round-8 cauda-equina-first order without a cancer


def test_cancer_with_back_pain_and_no_deficit_is_urgent_not_an_emergency() -> None:
    rules, level, _, _ = assess("hx_cancer", "sx_back_pain", "sx_tingling", "loc_toes", age=66)
    assert "rf_cancer_back_pain" in rules and "rf_cancer_back_pain_neuro_deficit" not in rules
    assert level == "urgent"


def test_chemotherapy_numb_feet_with_back_pain_wait_24_hours_not_an_emergency() -> None:
    """Both feet numb from chemotherapy is the presenting complaint, not NICE's new sensory loss."""
    picture = ("hx_cancer", "hx_chemotherapy", "sx_back_pain", "bilateral", "loc_stocking_distribution", "sx_tingling")
    rules, level, ranked, _ = assess(*picture, age=62)
    assert "rf_cancer_back_pain" in rules and "rf_cancer_back_pain_neuro_deficit" not in rules
    assert level == "urgent"
    assert ranked[0] == "chemo_induced_neuropathy"
    rules, level, _, _ = assess(*picture, "ex_reduced_light_touch_pinprick", "sx_weakness", age=62)
    assert "rf_cancer_back_pain_neuro_deficit" in rules and level == "emergency"


def test_back_pain_and_numbness_without_cancer_fire_no_cancer_rule() -> None:
    rules, _, _, _ = assess("sx_back_pain", "sx_tingling", "loc_toes", age=66)
    assert not {r for r in rules if r.startswith("rf_cancer")}


def test_cancer_with_a_sensory_level_is_an_emergency_without_pain() -> None:
    rules, level, ranked, _ = assess("hx_cancer", "ex_sensory_level", "sx_tingling", "bilateral", age=66)
    assert "rf_cancer_sensory_level" in rules and level == "emergency"
    assert ranked[0] == "spinal_cord_injury"
    rules, _, _, _ = assess("ex_sensory_level", "sx_tingling", "bilateral", age=66)
    assert "rf_cancer_sensory_level" not in rules


def test_a_cancer_history_raises_cord_compression_and_chemotherapy_neuropathy() -> None:
    spine = ("sx_back_pain", "sx_weakness", "bilateral", "sx_tingling")
    assert probability("spinal_cord_injury", "hx_cancer", *spine, age=66) > probability(
        "spinal_cord_injury", *spine, age=66
    )
    stocking = ("bilateral", "loc_stocking_distribution", "sx_tingling")
    assert probability("chemo_induced_neuropathy", "hx_cancer", *stocking, age=60) > 3 * probability(
        "chemo_induced_neuropathy", *stocking, age=60
    )


# --- arm weakness: stroke (BE-FAST) and Guillain-Barre (Leonhard 2019)


def test_sudden_arm_and_leg_weakness_on_one_side_is_the_stroke_pathway() -> None:
    rules, level, ranked, first = assess("onset_sudden", "sx_arm_weakness", "sx_weakness", "unilateral", age=70)
    assert "rf_sudden_arm_weakness" in rules and level == "emergency"
    assert ranked[0] == "stroke"
    assert first == "ct_head"


def test_arm_weakness_of_gradual_onset_fires_no_stroke_rule() -> None:
    rules, _, _, _ = assess("onset_gradual", "sx_arm_weakness", "bilateral", "sx_tingling", age=70)
    assert "rf_sudden_arm_weakness" not in rules


def test_arm_weakness_with_ascending_areflexic_leg_weakness_is_gbs_emergency_nerve_test_first() -> None:
    picture = ("sx_weakness", "ascending", "ex_absent_reflexes", "bilateral", "sx_tingling")
    rules, level, ranked, first = assess("sx_arm_weakness", *picture, age=40)
    assert "rf_arm_and_leg_weakness_progressive" in rules and level == "emergency"
    assert ranked[0] == "guillain_barre"
    assert first == "nerve_conduction_study"
    assert probability("guillain_barre", "sx_arm_weakness", *picture, age=40) > probability(
        "guillain_barre", *picture, age=40
    )


def test_slow_hand_and_foot_weakness_with_wasting_and_high_arches_is_not_the_gbs_pathway() -> None:
    rules, level, ranked, _ = assess(
        "sx_arm_weakness",
        "sx_weakness",
        "onset_gradual",
        "progressive",
        "bilateral",
        "sx_muscle_atrophy",
        "ex_high_arches_hammer_toes",
        age=30,
    )
    assert "rf_arm_and_leg_weakness_progressive" not in rules
    assert level != "emergency"
    assert ranked[0] == "charcot_marie_tooth"


def test_arm_weakness_counts_against_a_local_leg_cause() -> None:
    picture = ("loc_lateral_leg", "loc_dorsum_foot", "sx_tingling", "unilateral")
    assert probability("superficial_peroneal_entrapment", "sx_arm_weakness", *picture) < probability(
        "superficial_peroneal_entrapment", *picture
    )


def test_arm_weakness_keeps_a_sudden_fibular_pattern_foot_drop_on_the_stroke_pathway() -> None:
    fibular = ("onset_sudden", "sx_foot_drop", "ex_ankle_eversion_weakness", "loc_dorsum_foot", "unilateral")
    rules, level, _, _ = assess(*fibular, age=60)
    assert level == "urgent" and "rf_sudden_weakness" not in rules
    rules, level, _, _ = assess(*fibular, "sx_arm_weakness", age=60)
    assert "rf_sudden_weakness" in rules and level == "emergency"


# --- vasoconstrictor drugs: vasospastic acute limb ischaemia (ESVS 2020; Garcia 2000)


def test_an_ergot_with_a_sudden_cold_pale_painful_foot_is_acute_limb_ischaemia() -> None:
    rules, level, ranked, first = assess(
        "hx_vasoconstrictor_drug", "onset_sudden", "sx_cold_foot", "sx_foot_pain", "unilateral", age=35
    )
    assert "rf_vasoconstrictor_ischaemic_foot" in rules and level == "emergency"
    assert ranked[0] == "acute_limb_ischemia"
    assert first == "arterial_duplex"


def test_without_the_drug_a_sudden_cold_painful_foot_fires_no_drug_rule() -> None:
    rules, _, _, _ = assess("onset_sudden", "sx_cold_foot", "sx_foot_pain", "unilateral", age=35)
    assert not {r for r in rules if r.startswith("rf_vasoconstrictor")}


def test_a_raynaud_attack_on_a_triptan_is_same_day_not_the_ischaemia_emergency() -> None:
    rules, level, ranked, _ = assess(
        "hx_vasoconstrictor_drug",
        "onset_sudden",
        "sx_cold_foot",
        "sx_pallor_or_cyanosis",
        "episodic_color_change",
        "after_cold_exposure",
        age=30,
    )
    assert "rf_vasoconstrictor_ischaemic_foot" not in rules and "rf_vasoconstrictor_cold_foot" in rules
    assert level == "urgent"
    assert ranked[0] == "raynauds"


def test_a_vasoconstrictor_raises_limb_ischaemia_in_the_ranking() -> None:
    picture = ("onset_sudden", "sx_cold_foot", "unilateral", "sx_tingling")
    assert probability("acute_limb_ischemia", "hx_vasoconstrictor_drug", *picture, age=35) > probability(
        "acute_limb_ischemia", *picture, age=35
    )


# --- Romberg and a palpable mass: ranking


def test_romberg_raises_stenosis_by_its_published_likelihood_ratio_and_b12_risk_makes_it_urgent() -> None:
    stenosis = ("sx_back_pain", "bilateral", "worse_standing_walking_downhill", "sx_tingling")
    assert probability("lumbar_spinal_stenosis", "ex_positive_romberg", *stenosis, age=72) > probability(
        "lumbar_spinal_stenosis", *stenosis, age=72
    )
    rules, level, ranked, first = assess(
        "ex_positive_romberg", "hx_vegan_or_malabsorption", "bilateral", "loc_stocking_distribution", age=40
    )
    assert "rf_romberg_with_b12_risk" in rules and level == "urgent"
    assert ranked[0] == "b12_deficiency_neuropathy" and first == "vitamin_b12"


def test_romberg_moves_a_burning_stocking_picture_from_small_fibre_to_a_large_fibre_cause() -> None:
    burning = ("sx_burning", "bilateral", "loc_stocking_distribution")
    assert assess(*burning, age=45)[2][0] == "small_fiber_neuropathy"
    assert assess(*burning, "ex_positive_romberg", age=45)[2][0] != "small_fiber_neuropathy"


def test_a_palpable_mass_along_the_nerve_lowers_compartment_syndrome_and_raises_the_entrapment() -> None:
    lateral = ("loc_lateral_leg", "loc_dorsum_foot", "sx_swelling", "sx_tingling", "unilateral", "onset_gradual")
    assert probability("acute_compartment_syndrome", "ex_palpable_mass", *lateral, age=17) < 0.5 * probability(
        "acute_compartment_syndrome", *lateral, age=17
    )
    assert probability("superficial_peroneal_entrapment", "ex_palpable_mass", *lateral, age=17) > probability(
        "superficial_peroneal_entrapment", *lateral, age=17
    )
    _, level, _, _ = assess("ex_palpable_mass", *lateral, age=17)
    assert level != "emergency"


@pytest.mark.e2e
def test_the_grpc_services_accept_the_round9_ids_and_act_on_the_mscc_pathway(suite: LocalSuite) -> None:
    assert vocabulary_support.intake_keeps(suite, ROUND9_IDS) >= set(ROUND9_IDS)
    picture = ("hx_cancer", "sx_back_pain", "sx_weakness", "bilateral", "sx_tingling")
    assessment = vocabulary_support.assess_over_grpc(suite, *picture, age=66)
    assert assessment.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY
    assert "rf_cancer_back_pain_neuro_deficit" in {f.rule_id for f in assessment.triage.red_flags}
    assert assessment.tests[0].test_id == "mri_brain_spine"
    assert "decision support" in assessment.disclaimer.lower()


def test_known_pressure_palsies_keep_a_sudden_arm_and_foot_weakness_off_the_stroke_rule() -> None:
    picture = ("onset_sudden", "sx_arm_weakness", "sx_foot_drop", "unilateral")
    assert "rf_sudden_arm_weakness" in assess(*picture, age=30)[0]
    assert "rf_sudden_arm_weakness" not in assess(*picture, "hx_recurrent_pressure_palsies", age=30)[0]


def test_four_limb_weakness_on_vincristine_with_a_family_neuropathy_is_still_an_emergency() -> None:
    picture = ("hx_chemotherapy", "hx_cancer", "hx_family_history_neuropathy", "bilateral", "sx_weakness")
    rules, level, _, _ = assess(*picture, "sx_arm_weakness", "ex_absent_reflexes", age=8)
    assert "rf_arm_and_leg_weakness_progressive" in rules and level == "emergency"
    rules, _, _, _ = assess(*picture, "sx_arm_weakness", "ex_absent_reflexes", "onset_gradual", age=8)
    assert "rf_arm_and_leg_weakness_progressive" not in rules


def test_worsening_cold_blue_painful_legs_on_an_ergot_are_an_emergency_chronic_claudication_is_not() -> None:
    rules, level, _, first = assess(
        "hx_vasoconstrictor_drug", "bilateral", "sx_cold_foot", "sx_pallor_or_cyanosis", "sx_leg_pain", "progressive"
    )
    assert "rf_vasoconstrictor_ischaemic_foot" in rules and level == "emergency"
    assert first == "arterial_duplex"
    rules, level, _, _ = assess("hx_vasoconstrictor_drug", "onset_gradual", "sx_cold_foot", "sx_claudication")
    assert "rf_vasoconstrictor_ischaemic_foot" not in rules and "rf_vasoconstrictor_cold_foot" in rules
    assert level == "urgent"


def test_cocaine_raises_compartment_syndrome_and_cancer_raises_chemotherapy_neuropathy_further() -> None:
    calf = ("loc_calf", "sx_leg_pain", "sx_swelling", "unilateral")
    assert probability("acute_compartment_syndrome", "hx_vasoconstrictor_drug", *calf, age=28) > probability(
        "acute_compartment_syndrome", *calf, age=28
    )
    chemo = ("hx_chemotherapy", "sx_weakness")
    assert probability("chemo_induced_neuropathy", "hx_cancer", *chemo, age=69) > probability(
        "chemo_induced_neuropathy", *chemo, age=69
    )


def test_the_counterfactual_lists_real_spent_cases_that_lacked_the_id() -> None:
    """devtools.unmapped_counterfactual: each prefix names one spent case, none already carries the id."""
    from devtools.unmapped_counterfactual import additions
    from tests.clinical.realcases import spent_cases

    cases = spent_cases()
    for prefix, ids in additions().items():
        matching = [c for c in cases if c.id.startswith(prefix + "_")]
        assert len(matching) == 1, prefix
        assert not {f.id for f in matching[0].evidence} & set(ids), prefix


def test_with_the_writers_unmapped_concepts_mapped_no_spent_emergency_is_lost() -> None:
    """The published emergencies among those cases stay emergencies when the round-9 id is added."""
    from devtools.unmapped_counterfactual import additions, assess, short_id
    from tests.clinical.realcases import spent_cases

    added = additions()
    for case in spent_cases():
        ids = added.get(short_id(case))
        if ids is None or case.expected.triage != "emergency":
            continue
        if assess(case, [])["triage"] == "emergency":
            assert assess(case, ids)["triage"] == "emergency", case.id


def test_a_lump_with_weakness_is_seen_within_48_hours_a_lump_alone_is_routine() -> None:
    knee = ("loc_lateral_leg", "unilateral", "sx_radiating_leg_pain", "ex_reduced_light_touch_pinprick")
    rules, level, ranked, _ = assess("ex_palpable_mass", "sx_weakness", *knee, age=40)
    assert "rf_mass_with_motor_deficit" in rules and level == "urgent"
    assert ranked[0] == "common_fibular_neuropathy"
    rules, _, _, _ = assess("ex_palpable_mass", *knee, age=40)
    assert "rf_mass_with_motor_deficit" not in rules

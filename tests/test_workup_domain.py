"""Work-up: tests chosen by their value, tiered, explained; results re-rank the differential.

Cases are built from findings and ranked with the real knowledge base; the assertions are
what a clinician would notice (which test comes first, in which tier, what moved and why).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Unpack

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.differential.ranking import posterior, rank
from services.knowledge.clinical import Case, Patient, State
from services.knowledge.loader import knowledge_base
from services.platform.errors import InvalidInput
from services.workup.domain import (
    TIERS,
    ResultInput,
    WorkupResult,
    apply_results,
    compiled_tests,
    expected_uncertainty,
    recommend_tests,
)
from services.workup.results import PostTestResult, ProbabilityChange
from tests.patients import PatientFields

P, A = State.PRESENT, State.ABSENT


def case(*present: str, absent: tuple[str, ...] = (), **patient: Unpack[PatientFields]) -> Case:
    evidence = {f: P for f in present} | {f: A for f in absent}
    return Case(Patient(**patient), evidence)


LACES = case(
    "loc_dorsum_foot", "during_running_only", "relieved_by_removing_shoes", "hx_tight_lacing",
    "sx_tingling", absent=("sx_weakness", "constant", "sx_back_pain"), age=28, activity="runner",
)
TARSAL = case("loc_sole", "loc_heel", "sx_burning", "worse_at_night", "unilateral", age=45)
RADICULOPATHY = case(
    "sx_back_pain", "sx_radiating_leg_pain", "ex_positive_slr", "unilateral", "loc_lateral_foot",
    "ex_reduced_ankle_reflex", absent=("sx_bladder_bowel_dysfunction", "loc_saddle_area"), age=45,
)
PAD = case("loc_calf", "sx_cramping_calf", "relieved_by_rest", "hx_smoking", age=60)
MORTON = case("loc_toes_3_4_web", "loc_ball_of_foot", "sx_burning", age=40, sex="female")
DIABETIC = case("hx_diabetes", "bilateral", "loc_toes", "onset_gradual", age=58)
B12 = case(
    "hx_vegan_or_malabsorption", "hx_metformin", "bilateral", "symmetric",
    "sx_balance_problems", "loc_stocking_distribution", "onset_gradual",
    absent=("hx_diabetes",), age=55,
)
CAUDA_EQUINA = case(
    "sx_back_pain", "sx_bladder_bowel_dysfunction", "loc_saddle_area", "bilateral", "sx_weakness",
    age=50,
)
STROKE = case(
    "onset_sudden", "sx_facial_droop", "sx_slurred_speech", "unilateral", "loc_face_or_arm",
    "sx_weakness", age=70,
)
COMPARTMENT = case(
    "hx_fracture_or_crush_injury", "ex_tense_compartment", "ex_pain_on_passive_stretch",
    "loc_leg_below_knee", "sx_swelling", age=24,
)
LIMB_ISCHAEMIA = case(
    "onset_sudden", "sx_cold_foot", "sx_pallor_or_cyanosis", "ex_diminished_pedal_pulses",
    "unilateral", "hx_cardiovascular_disease", age=72,
)
GBS = case(
    "loc_toes", "loc_leg_below_knee", "symmetric", "ascending", "sx_weakness",
    "ex_absent_reflexes", "hx_recent_infection", absent=("sx_bladder_bowel_dysfunction",), age=35,
)


def plan(c: Case) -> WorkupResult:
    return recommend_tests(knowledge_base(), c, rank(c))


def ids(result: WorkupResult) -> list[str]:
    return [t.test_id for t in result.tests]


# --- don't over-test ----------------------------------------------------------------------


def test_tight_laces_runner_gets_no_test_and_a_safety_net() -> None:
    d = rank(LACES)
    assert d.conditions[0].condition_id == "footwear_compression" and d.triage.level == "self_care"
    result = recommend_tests(knowledge_base(), LACES, d)
    assert ids(result) == [knowledge_base().no_test_id] == ["none_needed"]
    note = result.note.lower()
    assert "persists at rest" in note and "weakness" in note and "spreads" in note
    assert "mri" not in note


# --- the first test follows the value computation ----------------------------------------


@pytest.mark.parametrize(
    ("c", "leader", "first"),
    [
        (TARSAL, "tarsal_tunnel", "nerve_conduction_study"),
        (RADICULOPATHY, "lumbar_radiculopathy", "mri_lumbar_spine"),
        (PAD, "peripheral_arterial_disease", "ankle_brachial_index"),
        (MORTON, "mortons_neuroma", "ultrasound_foot"),
        (DIABETIC, "diabetic_neuropathy", "blood_glucose_hba1c"),
        (B12, "b12_deficiency_neuropathy", "vitamin_b12"),
    ],
    ids=["tarsal_tunnel", "radiculopathy", "pad", "mortons", "diabetic", "b12"],
)
def test_first_test_for_the_common_causes(c: Case, leader: str, first: str) -> None:
    assert rank(c).conditions[0].condition_id == leader
    result = plan(c)
    assert result.tests[0].test_id == first
    assert result.tests[0].tier == "first_line"
    assert leader in result.tests[0].condition_ids


def test_emg_comes_after_mri_for_radiculopathy() -> None:
    order = ids(plan(RADICULOPATHY))
    assert "emg" in order and order.index("emg") > order.index("mri_lumbar_spine")


@pytest.mark.parametrize(
    ("c", "emergency", "first"),
    [
        (CAUDA_EQUINA, "cauda_equina_syndrome", "mri_lumbar_spine"),
        (STROKE, "stroke", "ct_head"),
        (COMPARTMENT, "acute_compartment_syndrome", "compartment_pressure"),
    ],
    ids=["cauda_equina", "stroke", "compartment"],
)
def test_emergencies_get_an_immediate_test_first(c: Case, emergency: str, first: str) -> None:
    d = rank(c)
    assert d.triage.level == "emergency"
    result = recommend_tests(knowledge_base(), c, d)
    top = result.tests[0]
    assert (top.test_id, top.tier) == (first, "immediate")
    assert top.same_day  # an emergency test is done today (MRI on the cauda equina pathway)
    assert emergency in top.condition_ids
    assert d.conditions[0].label in top.rationale or emergency in top.condition_ids
    assert "emergency" in top.rationale.lower() and "now" in result.note.lower()


def test_limb_ischaemia_gets_a_same_day_vascular_test_now() -> None:
    kb = knowledge_base()
    top = plan(LIMB_ISCHAEMIA).tests[0]
    assert top.tier == "immediate" and top.same_day
    assert "acute_limb_ischemia" in kb.tests[top.test_id].detects
    # Duplex, on the ALI emergency pathway, beats an ABI: a low ABI is also what chronic PAD
    # gives (its specificity for ALI is lower), so it cannot settle "acute occlusion or not".
    assert top.test_id == "arterial_duplex"


def test_an_emergency_pathway_makes_a_slow_test_same_day_for_that_emergency_only() -> None:
    kb = knowledge_base()
    assert not kb.tests["nerve_conduction_study"].same_day
    gbs = plan(GBS)
    top = gbs.tests[0]
    assert (top.test_id, top.tier, top.same_day) == ("nerve_conduction_study", "immediate", True)
    assert "guillain_barre" in top.condition_ids
    tarsal = next(t for t in plan(TARSAL).tests if t.test_id == "nerve_conduction_study")
    assert not tarsal.same_day and "28 days' wait" in tarsal.rationale


def test_a_red_flag_naming_many_emergencies_orders_one_test_not_six() -> None:
    d = rank(STROKE)
    suspects = {c for flag in d.triage.red_flags for c in flag.suspect}
    assert len(suspects) > 3  # the sudden-weakness flag suspects half the emergencies
    immediate = [t for t in plan(STROKE).tests if t.tier == "immediate"]
    assert [t.test_id for t in immediate] == ["ct_head"]


def test_after_an_emergency_the_rest_waits() -> None:
    tests = plan(STROKE).tests
    assert all(t.tier == "if_unclear" for t in tests[1:])
    assert all("after the emergency" in t.rationale for t in tests[1:])


# --- the shape of the plan -----------------------------------------------------------------


@pytest.mark.parametrize("c", [TARSAL, RADICULOPATHY, PAD, MORTON, B12, CAUDA_EQUINA, STROKE])
def test_plans_are_short_ordered_coded_cited_and_explained(c: Case) -> None:
    kb = knowledge_base()
    tests = plan(c).tests
    assert 1 <= len(tests) <= 5
    assert len({t.test_id for t in tests}) == len(tests)
    tiers = [TIERS.index(t.tier) for t in tests]
    assert tiers == sorted(tiers)
    for t in tests:
        source = kb.tests[t.test_id]
        assert t.cpt == tuple(source.cpt) and t.loinc == tuple(source.loinc)
        assert t.citations and all(r.title == kb.sources[r.key].title for r in t.citations)
        assert t.condition_ids and set(t.condition_ids) <= set(source.detects)
        assert any(kb.conditions[cid].label in t.rationale for cid in source.detects) or (
            "other causes" in t.rationale
        )


def test_rationale_names_the_conditions_the_test_separates() -> None:
    d = rank(TARSAL)
    second = d.conditions[1]
    ncs = plan(TARSAL).tests[0]
    assert "Tarsal tunnel" in ncs.rationale and second.label in ncs.rationale


def test_a_contraindicated_test_is_flagged_moved_down_and_replaced() -> None:
    unsafe = replace(RADICULOPATHY, patient=replace(RADICULOPATHY.patient, flags=frozenset({"mri_unsafe_implant"})))
    tests = plan(unsafe).tests
    order = [t.test_id for t in tests]
    mri = tests[order.index("mri_lumbar_spine")]
    assert mri.contraindications_found == ("mri_unsafe_implant",)
    assert "contraindicated" in mri.rationale.lower()
    assert order[0] == "emg" and "instead" in tests[0].rationale
    assert not tests[0].contraindications_found


def test_an_emergency_test_without_alternative_stays_immediate_but_flagged() -> None:
    unsafe = replace(CAUDA_EQUINA, patient=replace(CAUDA_EQUINA.patient, flags=frozenset({"mri_unsafe_implant"})))
    mri = next(t for t in plan(unsafe).tests if t.test_id == "mri_lumbar_spine")
    assert mri.tier == "immediate" and mri.contraindications_found
    assert "discuss" in mri.rationale


def test_unknown_condition_in_a_differential_names_the_field() -> None:
    d = rank(TARSAL)
    bad = replace(d, conditions=(replace(d.conditions[0], condition_id="gout"), *d.conditions[1:]))
    with pytest.raises(InvalidInput) as err:
        recommend_tests(knowledge_base(), TARSAL, bad)
    assert err.value.violations[0].field == "differential.conditions[0].condition_id"


# --- the math ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4), st.integers(0, 19))
def test_a_test_never_adds_uncertainty(weights: list[float], test_index: int) -> None:
    table = compiled_tests(knowledge_base())
    prior = np.zeros(len(table.condition_ids) + 1)
    prior[[0, 3, 14, len(prior) - 1]] = np.array(weights) + 1e-3
    prior /= prior.sum()
    ti = test_index % len(table.test_ids)
    before = expected_uncertainty(table, prior, [], [14])
    after = expected_uncertainty(table, prior, [ti], [14])
    assert after <= before + 1e-12


# --- results -------------------------------------------------------------------------------


def apply(c: Case, *results: ResultInput) -> PostTestResult:
    return apply_results(knowledge_base(), c, results)


def change_of(post: PostTestResult, condition_id: str) -> ProbabilityChange:
    return next(ch for ch in post.changes if ch.condition_id == condition_id)


def prob(post: PostTestResult, condition_id: str) -> float:
    return float(post.differential.probabilities()[condition_id])


def before(c: Case, condition_id: str) -> float:
    return float(rank(c).probabilities()[condition_id])


def test_a_normal_abi_drops_pad_and_says_why() -> None:
    post = apply(PAD, ResultInput("ankle_brachial_index", None, 1.1, ()))
    assert prob(post, "peripheral_arterial_disease") < before(PAD, "peripheral_arterial_disease")
    why = change_of(post, "peripheral_arterial_disease").explanation
    assert "Ankle-brachial index" in why and "normal" in why
    assert "sensitivity 69%" in why and "specificity 83%" in why
    assert "ankle_brachial_index" not in {t.test_id for t in post.next_tests}
    assert "Ankle-brachial index" in post.summary


def test_an_abi_of_0_7_reads_abnormal_and_lifts_pad() -> None:
    post = apply(PAD, ResultInput("ankle_brachial_index", None, 0.7, ()))
    assert prob(post, "peripheral_arterial_disease") > before(PAD, "peripheral_arterial_disease")
    assert "abnormal" in change_of(post, "peripheral_arterial_disease").explanation


def test_a_slowed_posterior_tibial_ncs_lifts_tarsal_tunnel() -> None:
    post = apply(TARSAL, ResultInput("nerve_conduction_study", "abnormal", None, ("tarsal_tunnel",)))
    assert prob(post, "tarsal_tunnel") > before(TARSAL, "tarsal_tunnel")


def test_an_mri_disc_lifts_radiculopathy() -> None:
    post = apply(TARSAL, ResultInput("mri_lumbar_spine", "abnormal", None, ("lumbar_radiculopathy",)))
    assert prob(post, "lumbar_radiculopathy") > 2 * before(TARSAL, "lumbar_radiculopathy")
    assert post.changes[0].condition_id == "lumbar_radiculopathy"


def test_a_low_b12_lifts_b12_deficiency_and_the_differential_is_rebuilt() -> None:
    metformin = case("hx_metformin", "bilateral", "loc_toes", "onset_gradual", "sx_balance_problems", age=62)
    post = apply(metformin, ResultInput("vitamin_b12", None, 120.0, ()))
    assert prob(post, "b12_deficiency_neuropathy") > 3 * before(metformin, "b12_deficiency_neuropathy")
    assert abs(sum(c.probability for c in post.differential.conditions) - 1) < 1e-9
    assert post.differential.conditions[0].evidence_for  # explanations recomputed
    assert "120" in change_of(post, "b12_deficiency_neuropathy").explanation


def test_results_commute() -> None:
    a = ResultInput("ankle_brachial_index", "normal", None, ())
    b = ResultInput("blood_glucose_hba1c", None, 7.2, ())
    ab, ba = apply(PAD, a, b), apply(PAD, b, a)
    assert np.allclose(
        [c.probability for c in ab.differential.conditions],
        [ba.differential.probabilities()[c.condition_id] for c in ab.differential.conditions],
    )


def test_post_test_probabilities_are_prior_times_likelihood() -> None:
    kb = knowledge_base()
    post = apply(MORTON, ResultInput("ultrasound_foot", "abnormal", None, ("mortons_neuroma",)))
    prior = posterior(MORTON)
    table = compiled_tests(kb)
    acc = kb.tests["ultrasound_foot"].detects["mortons_neuroma"]
    lik = np.full(len(prior), 1 - acc.specificity)
    lik[table.condition_index["mortons_neuroma"]] = acc.sensitivity
    expected = prior * lik / (prior * lik).sum()
    got = post.differential.probabilities()
    assert np.allclose([got[c] for c in table.condition_ids], expected)


def test_bad_results_name_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidInput) as err:
        apply(
            PAD,
            ResultInput("abi", "normal", None, ()),
            ResultInput("ankle_brachial_index", None, 7.0, ()),
            ResultInput("vitamin_b12", None, None, ()),
            ResultInput("mri_lumbar_spine", "abnormal", None, ("gout", "tarsal_tunnel")),
        )
    fields = [v.field for v in err.value.violations]
    assert fields == [
        "results[0].test_id",
        "results[1].value",
        "results[2].value",
        "results[3].target_condition_ids[0]",
        "results[3].target_condition_ids[1]",
    ]
    assert "plausible" in err.value.violations[1].description


def test_a_value_that_contradicts_the_outcome_is_rejected() -> None:
    with pytest.raises(InvalidInput) as err:
        apply(PAD, ResultInput("ankle_brachial_index", "normal", 0.5, ()))
    assert err.value.violations[0].field == "results[0].value"

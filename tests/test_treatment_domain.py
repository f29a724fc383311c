"""Treatment plans: staged, merged without duplicates, conflicts resolved and explained.

Differentials come from the real ranking: ``rank`` on findings, or (to put two chosen
conditions side by side) ``differential_from_probabilities`` on a probability vector.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Unpack

import numpy as np

from services.differential.ranking import default_model, differential_from_probabilities, rank
from services.knowledge.clinical import Case, Differential, Patient, State, TreatmentPlan
from services.knowledge.loader import knowledge_base
from services.knowledge.validate import vocabulary
from services.treatment.domain import AGE_FLAG, RUNNING_FAMILIES, plan_treatment
from tests.patients import PatientFields

P, A = State.PRESENT, State.ABSENT


def case(*present: str, absent: tuple[str, ...] = (), **patient: Unpack[PatientFields]) -> Case:
    evidence = {f: P for f in present} | {f: A for f in absent}
    return Case(Patient(**patient), evidence)


LACES = case(
    "loc_dorsum_foot", "during_running_only", "relieved_by_removing_shoes", "hx_tight_lacing",
    absent=("sx_weakness", "constant"), age=28, activity="runner",
)
TARSAL = case("loc_sole", "loc_heel", "sx_burning", "worse_at_night", "unilateral", age=45)
MORTON = case("loc_toes_3_4_web", "loc_ball_of_foot", "sx_burning", age=40)
RADICULOPATHY = case(
    "sx_back_pain", "sx_radiating_leg_pain", "ex_positive_slr", "unilateral", "loc_lateral_foot",
    age=45,
)
DIABETIC = case("hx_diabetes", "bilateral", "loc_toes", "onset_gradual", age=58)
STROKE = case("onset_sudden", "sx_facial_droop", "sx_slurred_speech", "unilateral", "sx_weakness", age=70)


def mix(c: Case, **probabilities: float) -> Differential:
    """A real, triaged differential with the given conditions on top (the rest share 1%)."""
    model = default_model()
    probs = np.full(len(model.condition_ids), 0.01 / (len(model.condition_ids) - len(probabilities)))
    for cid, p in probabilities.items():
        probs[model.condition_ids.index(cid)] = p
    return differential_from_probabilities(c, probs / probs.sum(), model)


def plan_for(c: Case, differential: Differential | None = None, **patient: Unpack[PatientFields]) -> TreatmentPlan:
    p = replace(c.patient, **patient)
    return plan_treatment(knowledge_base(), p, differential or rank(replace(c, patient=p)))


def item_ids(plan: TreatmentPlan) -> list[str]:
    return [i.item_id for i in plan.items]


def test_laces_runner_gets_the_footwear_plan() -> None:
    kb = knowledge_base()
    plan = plan_for(LACES)
    expected = kb.plans["footwear_compression"]
    assert plan.condition_ids == ("footwear_compression",)
    assert item_ids(plan)[: len(expected.now)] == expected.now
    assert not plan.hold_running and plan.follow_up_days == expected.follow_up_days
    assert plan.return_to_run == tuple(expected.return_to_run)
    assert plan.safety_net == tuple(expected.safety_net)
    assert [i.stage for i in plan.items] == sorted(
        (i.stage for i in plan.items), key=("now", "next_2_6_weeks", "escalation").index
    )


def test_every_item_keeps_its_citations() -> None:
    kb = knowledge_base()
    for plan in (plan_for(LACES), plan_for(TARSAL), plan_for(STROKE)):
        for item in plan.items:
            source = kb.treatment_items[item.item_id]
            assert [c.key for c in item.citations] == source.citations
            assert all(c.title == kb.sources[c.key].title for c in item.citations)
            assert item.text == source.text and item.family == source.family


def test_shared_items_appear_once_serving_every_condition() -> None:
    d = mix(MORTON, mortons_neuroma=0.6, footwear_compression=0.35)
    plan = plan_for(MORTON, d)
    ids = item_ids(plan)
    assert len(ids) == len(set(ids))
    laces = next(i for i in plan.items if i.item_id == "t_fw_loosen_laces")
    assert set(laces.condition_ids) == {"mortons_neuroma", "footwear_compression"}
    assert plan.condition_ids[:2] == ("mortons_neuroma", "footwear_compression")
    kb = knowledge_base()
    assert plan.follow_up_days == min(kb.plans[c].follow_up_days for c in plan.condition_ids)


def test_no_running_advice_while_a_vascular_cause_is_open() -> None:
    d = mix(LACES, peripheral_arterial_disease=0.55, footwear_compression=0.4)
    plan = plan_for(LACES, d)
    kb = knowledge_base()
    assert plan.hold_running
    assert not {i.family for i in plan.items} & RUNNING_FAMILIES
    assert any("Running is on hold" in s and "Peripheral arterial disease" in s for s in plan.conflicts_resolved)
    # the footwear plan's "same day" return would contradict the hold
    assert not set(plan.return_to_run) & set(kb.plans["footwear_compression"].return_to_run)
    assert set(kb.plans["peripheral_arterial_disease"].return_to_run) <= set(plan.return_to_run)


def test_a_holding_plans_own_supervised_return_is_kept() -> None:
    d = mix(LACES, exertional_compartment_syndrome=0.9)
    plan = plan_for(LACES, d)
    assert plan.hold_running
    assert "t_tr_forefoot_retraining" in item_ids(plan)


def test_emergency_instructions_come_first_and_review_is_now() -> None:
    d = rank(STROKE)
    assert d.triage.level == "emergency"
    plan = plan_for(STROKE, d)
    assert plan.condition_ids[0] == "stroke"
    assert plan.items[0].family == "emergency" and plan.items[0].stage == "now"
    assert plan.follow_up_days == 0 and plan.hold_running
    # the sudden-weakness red flag suspects six emergencies; the ranking points at one
    assert {i.family for i in plan.items if i.family == "emergency"} and not any(
        "heparin" in i.text.lower() for i in plan.items
    )


def test_an_open_emergency_beside_a_routine_cause_is_explained() -> None:
    d = mix(RADICULOPATHY, lumbar_radiculopathy=0.75, cauda_equina_syndrome=0.2)
    plan = plan_for(RADICULOPATHY, d)
    assert plan.condition_ids[0] == "cauda_equina_syndrome"
    assert plan.items[0].family == "emergency"
    assert any(s.startswith("Emergency first") for s in plan.conflicts_resolved)


def test_renal_impairment_leaves_out_nsaids_with_a_reason() -> None:
    assert "t_med_nsaid" in item_ids(plan_for(RADICULOPATHY))
    plan = plan_for(RADICULOPATHY, flags=frozenset({"renal_impairment"}))
    assert "t_med_nsaid" not in item_ids(plan)
    assert any("NSAID" in s and "renal impairment" in s for s in plan.conflicts_resolved)


def test_diabetes_brings_foot_care_and_glycaemic_control_into_any_plan() -> None:
    plan = plan_for(LACES, flags=frozenset({"diabetes"}))
    families = {i.family for i in plan.items if i.stage == "now"}
    assert "foot_care" in families
    assert any("glucose" in i.text.lower() for i in plan.items)
    assert any(s.startswith("Diabetes: added") for s in plan.conflicts_resolved)


def test_diabetes_rules_out_hot_soaks_for_numb_feet() -> None:
    kb = knowledge_base()
    soaking = [c for c, p in kb.plans.items() if any("diabetes" in kb.treatment_items[i].avoid_if
                                                       for i in [*p.now, *p.next_2_6_weeks])]
    assert soaking, "the KB has an item to avoid in diabetes"
    d = mix(DIABETIC, **{soaking[0]: 0.9})
    without = plan_for(DIABETIC, d)
    plan = plan_for(DIABETIC, d, flags=frozenset({"diabetes"}))
    dropped = set(item_ids(without)) - set(item_ids(plan))
    assert dropped and all("diabetes" in kb.treatment_items[i].avoid_if for i in dropped)
    assert any("avoid with diabetes" in s for s in plan.conflicts_resolved)


def test_older_patient_gets_no_tca_when_the_kb_cautions_it_by_age() -> None:
    kb = knowledge_base()
    tca = kb.treatment_items["t_med_amitriptyline"]
    cautious = replace(
        kb,
        treatment_items={**kb.treatment_items, tca.id: tca.model_copy(update={"avoid_if": [*tca.avoid_if, AGE_FLAG]})},
    )
    d = mix(DIABETIC, diabetic_neuropathy=0.95)
    young = plan_treatment(cautious, replace(DIABETIC.patient, age=50), d)
    old = plan_treatment(cautious, replace(DIABETIC.patient, age=72), d)
    assert "t_med_amitriptyline" in item_ids(young)
    assert "t_med_amitriptyline" not in item_ids(old)
    assert any("age 65 or over (age 72)" in s for s in old.conflicts_resolved)


def test_real_kb_cautions_tca_in_older_adults() -> None:
    kb = knowledge_base()
    assert AGE_FLAG in kb.treatment_items["t_med_amitriptyline"].avoid_if  # NP-tab: caution > 65
    assert AGE_FLAG in vocabulary()["context_flags"]  # an EHR may also send it explicitly
    plan = plan_for(DIABETIC, mix(DIABETIC, diabetic_neuropathy=0.95), age=72)
    assert "t_med_amitriptyline" not in item_ids(plan)
    assert any("age 65 or over (age 72)" in s for s in plan.conflicts_resolved)
    younger = plan_for(DIABETIC, mix(DIABETIC, diabetic_neuropathy=0.95), age=64)
    assert "t_med_amitriptyline" in item_ids(younger)


def test_no_new_injection_right_before_a_race() -> None:
    d = mix(MORTON, mortons_neuroma=0.95)
    assert "t_inj_steroid_morton" in item_ids(plan_for(MORTON, d))
    plan = plan_for(MORTON, d, days_to_competition=14)
    assert "t_inj_steroid_morton" not in item_ids(plan)
    assert any("Competition in 14 days" in s and "injection" in s for s in plan.conflicts_resolved)


def test_no_racing_while_running_is_on_hold() -> None:
    plan = plan_for(TARSAL, days_to_competition=10)
    assert plan.hold_running
    assert any("do not race" in s for s in plan.conflicts_resolved)


def test_far_off_competition_changes_nothing() -> None:
    d = mix(MORTON, mortons_neuroma=0.95)
    assert plan_for(MORTON, d, days_to_competition=60) == plan_for(MORTON, d)


def test_at_most_three_leading_conditions() -> None:
    d = mix(
        TARSAL, tarsal_tunnel=0.3, plantar_fasciitis_related=0.25, mortons_neuroma=0.2,
        sural_entrapment=0.15,
    )
    plan = plan_for(TARSAL, d)
    assert plan.condition_ids == ("tarsal_tunnel", "plantar_fasciitis_related", "mortons_neuroma")
    served = {c for i in plan.items for c in i.condition_ids}
    assert "sural_entrapment" not in served

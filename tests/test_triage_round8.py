"""Round-8 triage and first tests (r8triage): a numbness that came on suddenly with a leg fracture or
crush is an open-fracture / compartment / arterial-injury emergency (BOAST 4, BOAST 10), and with a
cauda equina sign and no sign above the conus the lumbosacral MRI is ordered before the whole-spine
MRI (the national suspected-CES pathway), while a cord sign keeps the cord test first.
Red flags still win.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.differential.ranking import rank
from services.knowledge.clinical import Case, Patient, State
from services.knowledge.loader import KnowledgeBaseError, knowledge_base
from services.knowledge.models import ImmediateTestFirst, RedFlagPattern
from services.knowledge.validate import validate_knowledge_base
from services.workup.domain import recommend_tests
from services.workup.precedence import localised_order
from tests.triage_support import assess, immediate_tests

# --- a sudden deficit with a leg fracture or crush ----------------------------------------


def test_sudden_numbness_with_a_fracture_and_a_wound_is_an_emergency() -> None:
    flags, level, _ = assess(
        "unilateral", "onset_sudden", "hx_fracture_or_crush_injury", "hx_recent_surgery_injection_or_laceration",
        age=22,
    )
    assert "rf_sudden_numbness_after_fracture_or_crush" in flags
    assert level == "emergency"


def test_sudden_numbness_after_a_crush_without_a_wound_is_an_emergency_too() -> None:
    flags, level, _ = assess("unilateral", "onset_sudden", "hx_fracture_or_crush_injury", "loc_dorsum_foot", age=35)
    assert "rf_sudden_numbness_after_fracture_or_crush" in flags
    assert level == "emergency"


def test_a_gradual_numbness_after_an_old_fracture_is_not_the_trauma_rule() -> None:
    flags, level, _ = assess("unilateral", "onset_gradual", "hx_fracture_or_crush_injury", "loc_heel", age=35)
    assert "rf_sudden_numbness_after_fracture_or_crush" not in flags
    assert level != "emergency"


# --- which spine MRI first -------------------------------------------------------------------

CES_PICTURE = ("onset_sudden", "bilateral", "sx_weakness", "sx_bladder_bowel_dysfunction")


def test_sphincter_change_without_a_cord_sign_gets_the_lumbar_mri_first() -> None:
    _, level, tests = assess(*CES_PICTURE, age=40)
    assert level == "emergency"
    immediate = immediate_tests(tests)
    assert immediate[0] == "mri_lumbar_spine"
    assert "mri_brain_spine" in immediate  # the cord test stays an immediate test, second


def test_a_sensory_level_keeps_the_whole_spine_mri_first() -> None:
    _, level, tests = assess(*CES_PICTURE, "ex_sensory_level", age=40)
    assert level == "emergency"
    immediate = immediate_tests(tests)
    assert immediate[0] == "mri_brain_spine"
    assert "mri_lumbar_spine" in immediate


def test_arms_involved_keep_the_whole_spine_mri_first() -> None:
    _, _, tests = assess(*CES_PICTURE, "loc_hands_too", age=40)
    assert immediate_tests(tests)[0] == "mri_brain_spine"


def test_a_bilateral_sudden_paraplegia_without_a_cauda_equina_sign_keeps_the_cord_test_first() -> None:
    _, level, tests = assess("onset_sudden", "bilateral", "sx_weakness", "sx_back_pain", age=40)
    assert level == "emergency"
    assert immediate_tests(tests)[0] == "mri_brain_spine"


def test_bilateral_sudden_foot_drop_is_a_root_picture_lumbar_mri_first() -> None:
    _, level, tests = assess("onset_sudden", "bilateral", "sx_weakness", "sx_foot_drop", age=60)
    assert level == "emergency"
    immediate = immediate_tests(tests)
    assert immediate.index("mri_lumbar_spine") < immediate.index("mri_brain_spine")


def test_localised_order_moves_only_ahead_of_its_named_conditions() -> None:
    kb = knowledge_base()
    ces = kb.conditions["cauda_equina_syndrome"].immediate_test_first
    assert [entry.before for entry in ces] == [["spinal_cord_injury"]]
    order = ("stroke", "spinal_cord_injury", "cauda_equina_syndrome", "guillain_barre")
    assert localised_order(kb, order, {"loc_saddle_area"}) == (
        "stroke", "cauda_equina_syndrome", "spinal_cord_injury", "guillain_barre",
    )
    assert localised_order(kb, order, {"loc_saddle_area", "ex_hyperreflexia_or_babinski"}) == order
    assert localised_order(kb, order, {"sx_back_pain"}) == order  # no cauda equina sign
    already = ("cauda_equina_syndrome", "spinal_cord_injury")
    assert localised_order(kb, already, {"loc_saddle_area"}) == already


def test_an_order_entry_naming_an_unknown_condition_or_finding_is_refused() -> None:
    kb = knowledge_base()
    bad = kb.conditions["cauda_equina_syndrome"].model_copy(
        update={"immediate_test_first": [ImmediateTestFirst(
            before=["no_such_condition"], when_any=["no_such_finding"], citations=["girft_ces23"],
        )]}
    )
    broken = replace(kb, conditions={**kb.conditions, bad.id: bad})
    with pytest.raises(KnowledgeBaseError) as error:
        validate_knowledge_base(broken, check_codes=False)
    assert "no_such_condition" in str(error.value)
    assert "no_such_finding" in str(error.value)


def test_the_case_helper_is_the_engine_path() -> None:
    # the same picture through Case directly gives the same plan as through intake
    kb = knowledge_base()
    case = Case(Patient(age=40), {f: State.PRESENT for f in CES_PICTURE})
    plan = recommend_tests(kb, case, rank(case))
    assert plan.tests[0].test_id == "mri_lumbar_spine"


def test_a_cold_pulseless_foot_gets_the_arterial_test_before_the_compartment_pressure() -> None:
    kb = knowledge_base()
    order = ("acute_compartment_syndrome", "acute_limb_ischemia")
    assert localised_order(kb, order, {"sx_leg_pain", "ex_diminished_pedal_pulses"}) == (
        "acute_limb_ischemia", "acute_compartment_syndrome",
    )
    # a compartment sign keeps the probability order
    assert localised_order(kb, order, {"ex_diminished_pedal_pulses", "ex_pain_on_passive_stretch"}) == order
    # leg pain alone is not an ischaemic sign
    assert localised_order(kb, order, {"sx_leg_pain"}) == order


def test_sudden_calf_pain_with_claudication_gets_the_duplex_first() -> None:
    _, level, tests = assess("unilateral", "onset_sudden", "loc_calf", "sx_leg_pain", "sx_claudication", age=45)
    assert level == "emergency"
    immediate = immediate_tests(tests)
    assert immediate[0] == "arterial_duplex"
    assert "compartment_pressure" in immediate


def test_sudden_calf_pain_with_a_tense_compartment_gets_the_pressure_first() -> None:
    _, level, tests = assess(
        "unilateral", "onset_sudden", "loc_calf", "sx_leg_pain", "sx_claudication", "ex_tense_compartment", age=45,
    )
    assert level == "emergency"
    assert immediate_tests(tests)[0] == "compartment_pressure"


# --- a sudden foot drop in a fibular palsy's pattern ----------------------------------------

FIBULAR_PALSY = (
    "unilateral", "onset_sudden", "sx_foot_drop", "sx_weakness", "ex_ankle_eversion_weakness",
    "loc_dorsum_foot", "loc_lateral_leg", "ex_reduced_light_touch_pinprick",
)


def _level(*present: str) -> tuple[set[str], str]:
    flags, level, _ = assess(*present, age=55)
    return flags, level


def test_a_sudden_foot_drop_in_the_fibular_palsy_pattern_is_seen_the_same_day() -> None:
    flags, level = _level(*FIBULAR_PALSY)
    assert "rf_sudden_weakness" not in flags
    assert "rf_sudden_weakness_fibular_pattern" in flags
    assert level == "urgent"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ("sx_leg_pain", "pain: a compartment syndrome gives the same pattern (BOAST 10)"),
        ("sx_swelling", "swelling: compartment"),
        ("ex_ankle_inversion_weakness", "weak inversion: the L5 root, not the fibular nerve"),
        ("ex_hyperreflexia_or_babinski", "upper motor neurone sign: central"),
        ("sx_facial_droop", "BE-FAST sign: stroke"),
        ("sx_back_pain", "back pain: root, cord or dissection"),
        ("hx_knee_injury_or_surgery", "knee injury: popliteal artery"),
        ("bilateral", "both sides: cord or cauda equina"),
    ],
)
def test_any_sign_beyond_the_fibular_pattern_keeps_the_emergency(extra: str, why: str) -> None:
    picture = [f for f in FIBULAR_PALSY if not (extra == "bilateral" and f == "unilateral")]
    flags, level = _level(*picture, extra)
    assert level == "emergency", why
    assert flags & {"rf_sudden_weakness", "rf_sudden_bilateral_weakness", "rf_sudden_weakness_after_knee_injury",
                    "rf_leg_pain_with_motor_deficit", "rf_facial_droop", "rf_sudden_back_pain_with_numbness"}, why


def test_eversion_weakness_without_fibular_numbness_stays_on_the_stroke_pathway() -> None:
    flags, level = _level("unilateral", "onset_sudden", "sx_foot_drop", "sx_weakness", "ex_ankle_eversion_weakness")
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


def test_fibular_numbness_without_evertor_weakness_stays_on_the_stroke_pathway() -> None:
    flags, level = _level("unilateral", "onset_sudden", "sx_foot_drop", "sx_weakness", "loc_dorsum_foot")
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


def test_a_pattern_naming_an_unknown_finding_is_refused() -> None:
    kb = knowledge_base()
    rules = list(kb.red_flags)
    at = next(i for i, r in enumerate(rules) if r.id == "rf_sudden_weakness")
    pattern = RedFlagPattern(all_of=["ex_no_such_sign"], and_any_of=[["loc_dorsum_foot"]])
    rules[at] = rules[at].model_copy(update={"unless_pattern": pattern})
    with pytest.raises(KnowledgeBaseError) as error:
        validate_knowledge_base(replace(kb, red_flags=rules), check_codes=False)
    assert "ex_no_such_sign" in str(error.value)


def test_a_foot_drop_after_a_knee_injury_gets_the_arterial_test_first() -> None:
    # the popliteal artery of a knee dislocation (Mills 2004), even when the ranking holds limb
    # ischaemia below the floor: the knee-injury red flag suspects it
    _, level, tests = assess("unilateral", "onset_sudden", "hx_knee_injury_or_surgery", "sx_foot_drop", "sx_weakness",
                             "loc_dorsum_foot", age=25)
    assert level == "emergency"
    immediate = immediate_tests(tests)
    assert immediate[0] in ("arterial_duplex", "ankle_brachial_index")
    assert "compartment_pressure" in immediate


def test_a_flagged_suspect_joins_only_with_its_signs_and_a_condition_to_go_before() -> None:
    kb = knowledge_base()
    acs = ("acute_compartment_syndrome",)
    assert localised_order(kb, acs, {"hx_knee_injury_or_surgery"}, ["acute_limb_ischemia"]) == (
        "acute_limb_ischemia", "acute_compartment_syndrome",
    )
    assert localised_order(kb, acs, {"loc_dorsum_foot"}, ["acute_limb_ischemia"]) == acs  # no ischaemic sign
    assert localised_order(kb, acs, {"hx_knee_injury_or_surgery"}, []) == acs  # not flagged
    assert localised_order(kb, ("stroke",), {"hx_knee_injury_or_surgery"}, ["acute_limb_ischemia"]) == ("stroke",)


GBS_PICTURE = ("bilateral", "onset_sudden", "progressive", "sx_weakness", "sx_tingling", "loc_hands_too")


def test_weakness_with_tingling_hands_and_feet_gets_the_nerve_test_before_the_cord_mri() -> None:
    _, level, tests = assess(*GBS_PICTURE, age=21)
    assert level == "emergency"
    immediate = immediate_tests(tests)
    assert immediate.index("nerve_conduction_study") < immediate.index("mri_brain_spine")


@pytest.mark.parametrize(
    "cord_sign", ["ex_sensory_level", "sx_bladder_bowel_dysfunction", "ex_hyperreflexia_or_babinski"]
)
def test_a_sign_that_makes_gbs_doubtful_keeps_the_cord_mri_first(cord_sign: str) -> None:
    _, level, tests = assess(*GBS_PICTURE, cord_sign, age=21)
    assert level == "emergency"
    assert immediate_tests(tests)[0] == "mri_brain_spine"


def test_a_foot_drop_with_a_fracture_at_the_knee_gets_the_compartment_checked_first() -> None:
    # a fibular neck fracture (BOAST 10: fractures are the commonest cause of compartment syndrome);
    # the regression vignette v204 expects the same
    _, level, tests = assess("unilateral", "onset_sudden", "hx_knee_injury_or_surgery", "hx_fracture_or_crush_injury",
                             "sx_foot_drop", "sx_weakness", "loc_lateral_leg", age=22)
    assert level == "emergency"
    assert immediate_tests(tests)[0] == "compartment_pressure"


def test_sphincter_change_after_a_spinal_fracture_keeps_the_whole_spine_mri_first() -> None:
    # spinal trauma is imaged over the whole spine (regression vignette v063)
    _, level, tests = assess(*CES_PICTURE, "hx_back_injury", "hx_fracture_or_crush_injury", "sx_back_pain", age=34)
    assert level == "emergency"
    assert immediate_tests(tests)[0] == "mri_brain_spine"

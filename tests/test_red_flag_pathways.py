"""Red-flag rules aligned with published pathways (red_flags.yaml, sources_pathways.yaml).

Each rule is checked through the intake (so implications apply: foot drop is weakness) and the
ranking's triage, firing on the pathway's picture and not on its named mimic.
"""

from __future__ import annotations

import pytest

from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base


def assess(*present: str, absent: tuple[str, ...] = ()) -> tuple[set[str], str]:
    items = [EvidenceInput(f, State.PRESENT) for f in present]
    items += [EvidenceInput(f, State.ABSENT) for f in absent]
    normalized = normalize(knowledge_base(), Patient(age=45), items)
    flags = {hit.rule_id for hit in normalized.red_flags}
    return flags, rank(normalized.case).triage.level


FIRES = [
    # GIRFT national suspected CES pathway: bilateral radicular symptoms
    ("rf_bilateral_sciatica", ("bilateral", "sx_radiating_leg_pain")),
    # ... progressive deficit before any sphincter symptom (foot drop implies weakness)
    ("rf_ces_progressive_or_bilateral_deficit", ("sx_foot_drop", "progressive", "sx_radiating_leg_pain", "unilateral")),
    ("rf_ces_progressive_or_bilateral_deficit", ("sx_weakness", "bilateral", "sx_back_pain")),
    ("rf_sexual_dysfunction_back_pain", ("sx_sexual_dysfunction", "sx_radiating_leg_pain")),
    ("rf_saddle_anaesthesia", ("loc_saddle_area",)),
    # BE-FAST / AHA: sudden isolated foot drop is sudden focal weakness
    ("rf_sudden_weakness", ("onset_sudden", "sx_foot_drop", "unilateral")),
    ("rf_sudden_headache_with_numbness", ("onset_sudden", "sx_headache", "loc_toes")),
    # EAN/PNS GBS: bulbar or respiratory involvement; early GBS after an infection
    ("rf_breathing_or_swallowing_difficulty", ("sx_breathing_or_swallowing_difficulty", "loc_toes")),
    ("rf_bilateral_weakness_after_infection", ("sx_weakness", "bilateral", "hx_recent_infection")),
    ("rf_sensory_change_spreading_after_infection",
     ("hx_recent_infection", "loc_hands_too", "progressive", "sx_tingling")),
    ("rf_ascending_weakness", ("ascending", "sx_weakness")),
    # WMS frostbite: deep frostbite
    ("rf_deep_frostbite_skin", ("ex_skin_changes_waxy_blisters", "hx_cold_exposure")),
    ("rf_cold_injury_persisting", ("after_cold_exposure", "constant", "sx_pallor_or_cyanosis")),
    # ESVS ALI: acute onset with the Ps
    ("rf_cold_pale_pulseless_foot", ("onset_sudden", "ex_diminished_pedal_pulses", "sx_cold_foot")),
    ("rf_sensory_level_acute", ("ex_sensory_level", "progressive")),
    # bilateral motor deficit (GIRFT CES; GBS)
    ("rf_bilateral_foot_drop", ("bilateral", "sx_foot_drop")),
    # compartment syndrome / crush after lying on a limb
    ("rf_swelling_after_prolonged_immobilization", ("hx_prolonged_immobilization", "sx_swelling", "unilateral")),
]


@pytest.mark.parametrize(("rule", "present"), FIRES, ids=[f"{r}:{'+'.join(p)}" for r, p in FIRES])
def test_the_pathway_picture_fires_its_rule_and_is_an_emergency(rule: str, present: tuple[str, ...]) -> None:
    flags, level = assess(*present)
    assert rule in flags
    assert level == "emergency"


DOES_NOT_FIRE = [
    # neurogenic claudication of stenosis: bilateral leg pain relieved by sitting is not suspected CES
    ("rf_bilateral_sciatica", ("bilateral", "sx_radiating_leg_pain", "relieved_by_sitting_or_flexion")),
    # one-sided sciatica without a deficit
    ("rf_ces_progressive_or_bilateral_deficit", ("unilateral", "sx_radiating_leg_pain", "sx_back_pain")),
    # slowly progressive hereditary weakness, no back pain, no infection
    ("rf_bilateral_weakness_after_infection",
     ("sx_weakness", "bilateral", "progressive", "ex_high_arches_hammer_toes")),
    # blisters without any cold exposure are not frostbite
    ("rf_deep_frostbite_skin", ("ex_skin_changes_waxy_blisters", "loc_toes")),
    # a chronic bilateral foot drop (neurotoxic chemotherapy, gradual onset)
    ("rf_bilateral_foot_drop", ("bilateral", "sx_foot_drop", "hx_chemotherapy", "onset_gradual")),
    # lying on a limb without swelling (a pressure palsy is not a crush)
    ("rf_swelling_after_prolonged_immobilization", ("hx_prolonged_immobilization", "sx_weakness", "unilateral")),
    # chronic PAD: cold foot, weak pulses, gradual onset
    ("rf_cold_pale_pulseless_foot", ("onset_gradual", "ex_diminished_pedal_pulses", "sx_cold_foot", "loc_calf")),
]


@pytest.mark.parametrize(("rule", "present"), DOES_NOT_FIRE, ids=[f"{r}:{'+'.join(p)}" for r, p in DOES_NOT_FIRE])
def test_the_mimic_does_not_fire_the_rule(rule: str, present: tuple[str, ...]) -> None:
    flags, _ = assess(*present)
    assert rule not in flags


def test_a_chronic_pad_picture_is_not_an_emergency() -> None:
    _, level = assess(
        "onset_gradual", "ex_diminished_pedal_pulses", "sx_cold_foot", "sx_cramping_calf", "relieved_by_rest",
        "hx_smoking",
    )
    assert level != "emergency"


def test_blisters_without_cold_stay_urgent_not_emergency() -> None:
    flags, _ = assess("ex_skin_changes_waxy_blisters", "loc_toes")
    assert "rf_frostbite_skin" in flags and "rf_deep_frostbite_skin" not in flags


def test_a_rule_names_every_finding_that_matched() -> None:
    items = [EvidenceInput(f, State.PRESENT) for f in ("constant", "hx_cold_exposure", "ex_skin_changes_waxy_blisters")]
    hits = normalize(knowledge_base(), Patient(), items).red_flags
    hit = next(h for h in hits if h.rule_id == "rf_cold_injury_persisting")
    assert set(hit.finding_ids) == {"constant", "hx_cold_exposure", "ex_skin_changes_waxy_blisters"}


def test_sudden_tingling_of_hands_and_feet_is_seen_the_same_day_not_self_care() -> None:
    flags, level = assess("onset_sudden", "bilateral", "loc_hands_too", "sx_tingling", "sx_anxiety_palpitations")
    assert "rf_sudden_tingling_hands_and_feet" in flags and level == "urgent"
    flags, _ = assess("onset_gradual", "bilateral", "loc_hands_too", "sx_tingling")
    assert "rf_sudden_tingling_hands_and_feet" not in flags

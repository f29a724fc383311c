"""Round-3 red-flag rules (red_flags.yaml, r3triage): numbness after prolonged freezing exposure is
frostbite until examined (WMS 2019), and numbness of sudden onset with back pain is a spinal epidural
haematoma or cord infarction until imaged (Fedor 2011, Zalewski 2019). Each keeps its named exception:
episodic colour change (Raynaud's attacks) and a sciatic radiating pain (the acute disc, whose
emergencies are the cauda equina pathways).
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
    normalized = normalize(knowledge_base(), Patient(age=35), items)
    return {hit.rule_id for hit in normalized.red_flags}, rank(normalized.case).triage.level


FREEZING = "rf_numb_after_freezing_exposure"
SUDDEN_BACK = "rf_sudden_back_pain_with_numbness"


@pytest.mark.parametrize(
    "present",
    [
        ("hx_cold_exposure", "after_cold_exposure", "loc_toes"),
        ("hx_cold_exposure", "after_cold_exposure", "loc_toes", "loc_hands_too", "bilateral"),
    ],
)
def test_numb_digits_after_freezing_exposure_are_an_emergency(present: tuple[str, ...]) -> None:
    flags, level = assess(*present)
    assert FREEZING in flags
    assert level == "emergency"


def test_episodic_colour_change_with_cold_is_not_the_frostbite_emergency() -> None:
    flags, level = assess("hx_cold_exposure", "after_cold_exposure", "episodic_color_change", "loc_toes")
    assert FREEZING not in flags
    assert level != "emergency"


def test_ordinary_cold_triggered_numbness_without_prolonged_exposure_does_not_fire() -> None:
    flags, _ = assess("after_cold_exposure", "loc_toes", "bilateral")
    assert FREEZING not in flags


@pytest.mark.parametrize(
    "present",
    [("onset_sudden", "sx_back_pain"), ("onset_sudden", "sx_back_pain", "unilateral", "sx_tingling")],
)
def test_sudden_numbness_with_back_pain_is_an_emergency(present: tuple[str, ...]) -> None:
    flags, level = assess(*present)
    assert SUDDEN_BACK in flags
    assert level == "emergency"


def test_sudden_sciatica_is_left_to_the_cauda_equina_pathways() -> None:
    flags, _ = assess("onset_sudden", "sx_back_pain", "sx_radiating_leg_pain", "unilateral", "worse_sitting")
    assert SUDDEN_BACK not in flags


def test_gradual_back_pain_with_numbness_does_not_fire() -> None:
    flags, _ = assess("onset_gradual", "sx_back_pain", "unilateral")
    assert SUDDEN_BACK not in flags

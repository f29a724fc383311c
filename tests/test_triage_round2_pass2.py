"""Round-2 second-pass triage (r2triage2): a closed nerve injury without a motor deficit is seen
routinely, a motor deficit or an open / iatrogenic injury within 48 hours (Ehni 1991); the
emergency conditions' likelihoods follow their time course (GBS over days to 4 weeks, Asbury &
Cornblath 1990; ACS over hours, McQueen 2000) and GBS is doubted when a rash points to a systemic
cause. Red flags still win: the emergency pictures stay emergencies.
"""

from __future__ import annotations

from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base


def assess(*present: str) -> tuple[set[str], str, dict[str, float]]:
    items = [EvidenceInput(f, State.PRESENT) for f in present]
    normalized = normalize(knowledge_base(), Patient(age=45), items)
    differential = rank(normalized.case)
    probs = {c.condition_id: c.probability for c in differential.conditions}
    return {hit.rule_id for hit in normalized.red_flags}, differential.triage.level, probs


def test_a_sensory_nerve_injury_after_a_sprain_is_routine_unless_an_emergency_cannot_be_excluded() -> None:
    """The nerve injury itself is routine (Ehni 1991) and no red flag fires. Since round 8 the
    triage thresholds read the probabilities the list shows (the ranking correction included,
    docs/ranking.md section 9), which put acute limb ischaemia / compartment syndrome at 1.5-2%
    on this picture: the don't-miss rule then asks for a clinician within 48 hours, never an
    emergency. Published record: rc_g001 (an acute compartment syndrome after a low-energy ankle
    inversion, recorded as ankle trauma and dorsal foot tingling) is this picture."""
    items = [EvidenceInput(f, State.PRESENT) for f in
             ("hx_ankle_sprain_or_trauma", "onset_sudden", "unilateral", "loc_lateral_foot", "sx_tingling")]
    normalized = normalize(knowledge_base(), Patient(age=45), items)
    differential = rank(normalized.case)
    assert not normalized.red_flags
    leader = differential.conditions[0]
    assert leader.condition_id == "traumatic_nerve_injury"
    assert differential.triage.reasons[0].startswith(f"Most likely: {leader.label}") and "usually routine" in (
        differential.triage.reasons[0])
    threshold = knowledge_base().triage_policy.dont_miss_threshold
    escalations = [c for c in differential.conditions if c.emergency and c.probability >= threshold]
    assert differential.triage.level == ("urgent" if escalations else "routine")
    for c in escalations:
        assert f"{c.label} cannot be excluded ({c.probability:.1%}); see soon." in differential.triage.reasons


def test_a_motor_deficit_after_an_injury_is_seen_within_48_hours() -> None:
    flags, level, probs = assess(
        "hx_ankle_sprain_or_trauma", "unilateral", "loc_lateral_foot", "sx_tingling", "sx_weakness"
    )
    assert "rf_motor_deficit_after_limb_injury" in flags
    assert level == "urgent"
    assert max(probs, key=probs.__getitem__) == "traumatic_nerve_injury"


def test_numbness_after_surgery_a_cut_or_a_cast_is_seen_within_48_hours() -> None:
    # round 4: the lesion declares itself (a cut, a compressing cast or haematoma) by worsening; a stable
    # sensory-only deficit after surgery is routine (tests/test_triage_round4.py). Round 10 (r10triage): a
    # numbness present from the moment of the wound is an emergency instead (EAST 2012: a nerve deficit beside
    # a wound is a soft sign of arterial injury, assessed at once; tests/test_triage_round10.py), so the
    # 48-hour picture here is the worsening one.
    flags, level, probs = assess(
        "hx_recent_surgery_injection_or_laceration", "progressive", "unilateral", "loc_toes", "sx_tingling"
    )
    assert "rf_numbness_after_surgery_injection_cut_or_cast" in flags
    assert level == "urgent"
    assert max(probs, key=probs.__getitem__) == "traumatic_nerve_injury"


def test_a_sudden_weakness_after_surgery_stays_an_emergency() -> None:
    flags, level, _ = assess("hx_recent_surgery_injection_or_laceration", "onset_sudden", "sx_weakness", "unilateral")
    assert "rf_sudden_weakness" in flags
    assert level == "emergency"


def test_a_rash_lowers_guillain_barre_on_a_gradual_picture() -> None:
    base = ("bilateral", "loc_hands_too", "onset_gradual", "sx_weakness", "sx_tingling")
    _, _, without = assess(*base)
    _, _, with_rash = assess(*base, "sx_rash")
    assert with_rash["guillain_barre"] < 0.7 * without["guillain_barre"]


def test_classic_guillain_barre_with_a_rash_is_still_an_emergency() -> None:
    _, level, probs = assess(
        "hx_recent_infection", "bilateral", "ascending", "sx_weakness", "ex_absent_reflexes", "sx_rash"
    )
    assert level == "emergency"
    assert max(probs, key=probs.__getitem__) == "guillain_barre"


def test_a_foot_drop_worsening_over_weeks_is_not_called_compartment_syndrome() -> None:
    base = ("unilateral", "sx_foot_drop", "sx_weakness", "loc_leg_below_knee", "loc_toes")
    _, _, steady = assess(*base)
    _, level, worsening = assess(*base, "progressive")
    assert level == "urgent"
    # worsening over days or weeks is not the hours-long course of ACS: it must not double its probability
    assert worsening["acute_compartment_syndrome"] < 2 * steady["acute_compartment_syndrome"]


def test_compartment_syndrome_after_a_fracture_is_an_emergency_even_if_worsening() -> None:
    _, level, probs = assess(
        "hx_fracture_or_crush_injury", "unilateral", "sx_pain_sharp", "ex_tense_compartment", "progressive", "loc_calf"
    )
    assert level == "emergency"
    assert max(probs, key=probs.__getitem__) == "acute_compartment_syndrome"

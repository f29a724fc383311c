"""Round 20 (r20sink): acute limb ischaemia as the ranking's sink (docs/knowledge-changes-round20-r20sink.md).

Over the nineteen spent rounds acute limb ischaemia led 38 cases wrongly, 22 of them with a leader not even
acceptable; in round 19 it led two compartment syndromes, two spinal haematomas and a zoster. Part of its pull came
from rows the case-fitted layer had learnt from a handful of case reports: diabetes (0.66, from 8 of 9 reports that
stated it) and swelling (0.61, 7 of 9), where a cohort of 399 thrombolysed patients has diabetes in 21% (Butt 2017)
and the ESVS 2020 guideline's ischaemic limb is pale, cold and pulseless, not swollen. The rows are now listed
(``likelihoods_r20sink.yaml``) and the fitted layer no longer learns them. What a clinician notices: a diabetic's
painful, swollen calf is read as a compartment syndrome first, while a cold, white, pulseless leg is still read as
acute limb ischaemia and triaged an emergency.
"""

from __future__ import annotations

from services.knowledge.loader import knowledge_base
from tests import vocabulary_support

ALI = "acute_limb_ischemia"
ACS = "acute_compartment_syndrome"


def test_the_rows_are_listed_with_their_sources_and_no_longer_fitted() -> None:
    kb = knowledge_base()
    rows = kb.likelihoods[ALI]
    assert rows["hx_diabetes"].p < 0.3  # a cohort share (21% in Butt 2017), not a case-report share
    assert "butt17_ali_dm" in rows["hx_diabetes"].citations
    assert rows["sx_swelling"].p < 0.3
    assert all(rows[f].estimate and rows[f].estimate_reason for f in ("hx_diabetes", "sx_swelling"))


def test_a_diabetics_swollen_painful_calf_is_read_as_a_compartment_syndrome_first() -> None:
    _, triage, ranked, _ = vocabulary_support.assess(
        "hx_diabetes", "sx_leg_pain", "sx_swelling", "unilateral", "sx_pain_out_of_proportion", age=62)
    assert ranked[0] == ACS
    assert ALI in ranked[:3]  # still in sight: the artery is checked too
    assert triage == "emergency"


def test_a_cold_white_pulseless_leg_in_a_diabetic_is_still_acute_limb_ischaemia_and_an_emergency() -> None:
    _, triage, ranked, _ = vocabulary_support.assess(
        "onset_sudden", "unilateral", "sx_cold_foot", "sx_pallor_or_cyanosis", "ex_diminished_pedal_pulses",
        "sx_leg_pain", "hx_atrial_fibrillation", "hx_diabetes", age=75)
    assert ranked[0] == ALI
    assert triage == "emergency"


def test_without_the_pulses_examined_a_sudden_cold_pale_leg_still_leads_with_acute_limb_ischaemia() -> None:
    _, triage, ranked, _ = vocabulary_support.assess(
        "onset_sudden", "unilateral", "sx_cold_foot", "sx_pallor_or_cyanosis", "sx_leg_pain", "hx_diabetes", age=70)
    assert ranked[0] == ALI
    assert triage == "emergency"

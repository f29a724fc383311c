"""The evidence model (evidence_model.yaml, docs/ranking.md): implications applied at intake,
each chain and each correlated group counted once, unknown hallmarks, and the honest
"none of the listed conditions fits well"."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from services.differential.fit import assess_fit
from services.differential.interview import next_question
from services.differential.ranking import (
    case_arrays,
    compile_model,
    default_model,
    hallmark_log_factor,
    posterior,
    posterior_batch,
    rank,
)
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Case, Patient, State
from services.knowledge.loader import DATA_DIR, KnowledgeBaseError, knowledge_base, load_knowledge_base
from services.knowledge.models import EvidenceModel
from services.platform.errors import InvalidInput

P, A, U = State.PRESENT, State.ABSENT, State.UNKNOWN


def intake(*present: str, absent: tuple[str, ...] = (), patient: Patient | None = None) -> Case:
    items = [EvidenceInput(f, P) for f in present] + [EvidenceInput(f, A) for f in absent]
    return normalize(knowledge_base(), patient or Patient(), items).case


def leader(case: Case) -> str:
    return rank(case).conditions[0].condition_id


# --- implications at intake ---------------------------------------------------------------


def test_a_present_child_makes_its_parents_present() -> None:
    case = intake("sx_foot_drop", "loc_stocking_distribution")
    assert case.evidence["sx_weakness"] is P
    assert {case.evidence[f] for f in ("symmetric", "bilateral", "loc_toes")} == {P}


def test_an_absent_parent_makes_its_children_absent() -> None:
    case = intake("loc_toes", absent=("sx_weakness",))
    assert case.evidence["sx_foot_drop"] is A and case.evidence["ex_ankle_eversion_weakness"] is A


def test_a_child_present_with_its_parent_absent_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as err:
        intake("loc_toes", "sx_foot_drop", absent=("sx_weakness",))
    (violation,) = err.value.violations
    assert violation.field == "evidence[1]" and "'sx_weakness'" in violation.description


def test_a_derived_parent_meets_the_exclusivity_rules() -> None:
    with pytest.raises(InvalidInput) as err:
        intake("unilateral", "loc_stocking_distribution")
    assert any("unilateral" in v.description for v in err.value.violations)


def test_implications_must_be_acyclic() -> None:
    raw = yaml.safe_load((DATA_DIR / "evidence_model.yaml").read_text())
    raw["implications"].append({"finding": "sx_weakness", "implies": ["sx_foot_drop"], "reason": "loop"})
    with pytest.raises(ValidationError, match="cycle"):
        EvidenceModel.model_validate(raw)


def test_an_unknown_id_in_the_evidence_model_fails_at_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    raw = yaml.safe_load((data / "evidence_model.yaml").read_text())
    raw["correlation_groups"][0]["findings"].append("hx_no_such_thing")
    (data / "evidence_model.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(KnowledgeBaseError, match="hx_no_such_thing"):
        load_knowledge_base(data, check_codes=False)


def test_the_interview_does_not_ask_what_an_answer_already_implies() -> None:
    case = intake("sx_foot_drop", "unilateral")
    asked = {next_question(case).finding_id}
    assert "sx_weakness" not in asked


# --- counting -------------------------------------------------------------------------------


def test_unknown_findings_contribute_nothing() -> None:
    base = {"loc_dorsum_foot": P, "hx_tight_lacing": P}
    with_unknowns = {**base, "sx_back_pain": U, "hx_diabetes": U, "ex_mulder_click": U}
    assert np.allclose(posterior(Case(Patient(), base)), posterior(Case(Patient(), with_unknowns)))


def test_an_entailed_parent_adds_nothing_to_the_ranking() -> None:
    child = {"sx_foot_drop": P, "unilateral": P, "sx_back_pain": P}
    both = {**child, "sx_weakness": P}
    assert np.allclose(posterior(Case(Patient(), child)), posterior(Case(Patient(), both)))
    absent_parent = {"loc_toes": P, "sx_weakness": A}
    all_absent = {**absent_parent, "sx_foot_drop": A, "ex_ankle_eversion_weakness": A}
    assert np.allclose(posterior(Case(Patient(), absent_parent)), posterior(Case(Patient(), all_absent)))


def test_an_unlisted_child_inherits_its_parents_likelihood() -> None:
    """Stroke lists weakness, not foot drop: sudden foot drop must still point to stroke.

    The derivation is checked on the tables alone (``fitted=False``); the published cases then
    raise this pair further (fitted_likelihoods.yaml, docs/ranking.md section 8), never below it.
    """
    model = compile_model(load_knowledge_base(fitted=False))
    stroke, drop = model.condition_ids.index("stroke"), model.finding_index["sx_foot_drop"]
    weak = model.finding_index["sx_weakness"]
    bg = model.kb.findings
    derived = model.p[stroke, weak] * bg["sx_foot_drop"].background / bg["sx_weakness"].background
    assert model.p[stroke, drop] == pytest.approx(derived)
    assert default_model().p[stroke, drop] >= derived


def test_correlated_findings_count_once() -> None:
    """Diabetes and metformin together weigh no more than the stronger of the two, per condition."""
    model = default_model()
    dn = model.condition_ids.index("diabetic_neuropathy")
    base = {"loc_stocking_distribution": P, "sx_burning": P}
    scores = {
        name: np.log(posterior(Case(Patient(), {**base, **extra}))[dn] / posterior(Case(Patient(), base))[dn])
        for name, extra in (
            ("dm", {"hx_diabetes": P}),
            ("met", {"hx_metformin": P}),
            ("both", {"hx_diabetes": P, "hx_metformin": P}),
        )
    }
    assert scores["both"] <= max(scores["dm"], scores["met"]) + 1e-9
    batch = posterior_batch([Case(Patient(), {**base, "hx_diabetes": P, "hx_metformin": P})])[0]
    assert np.allclose(batch, posterior(Case(Patient(), {**base, "hx_diabetes": P, "hx_metformin": P})))



def test_a_condition_contradicted_by_one_finding_of_a_group_keeps_that_evidence() -> None:
    """A group counts once as the mean of its present findings' log-likelihood ratios, so a
    positive straight-leg raise (rare in a fibular palsy) still counts against fibular
    neuropathy when radiating pain is also reported; the former per-condition maximum let
    it pick the radiating pain alone and drop the contradiction."""
    from services.differential.ranking import case_terms

    model = default_model()
    cfn = model.condition_ids.index("common_fibular_neuropathy")
    lr = model.condition_ids.index("lumbar_radiculopathy")
    pain_only = case_terms(model, Case(Patient(), {"sx_radiating_leg_pain": P}))[0]
    both = case_terms(model, Case(Patient(), {"sx_radiating_leg_pain": P, "ex_positive_slr": P}))[0]
    assert both[cfn] < pain_only[cfn] - 0.3
    slr_only = case_terms(model, Case(Patient(), {"ex_positive_slr": P}))[0]
    assert both[lr] <= max(pain_only[lr], slr_only[lr]) + 1e-9  # still counted once, not twice

def test_a_common_condition_does_not_lead_on_its_prior_when_its_hallmarks_are_unknown() -> None:
    model = default_model()
    fc = model.condition_ids.index("footwear_compression")
    sparse = Case(Patient(), {"loc_dorsum_foot": P, "sx_tingling": P})
    laced = Case(Patient(), {"loc_dorsum_foot": P, "sx_tingling": P, "hx_tight_lacing": P})
    denied = Case(Patient(), {**sparse.evidence, **{f: A for f in ("hx_new_or_tight_shoes", "hx_tight_lacing",
                                                                   "hx_thick_socks", "relieved_by_removing_shoes")}})
    p_sparse, p_laced, p_denied = (posterior(c)[fc] for c in (sparse, laced, denied))
    assert p_laced > 0.5 > p_sparse > p_denied
    kb = knowledge_base()
    assert kb.evidence_model is not None
    mark = next(h for h in kb.evidence_model.hallmarks if h.condition == "footwear_compression")
    _, _, full = case_arrays([sparse], model)
    factor = hallmark_log_factor(model, *full)[0, fc]
    assert factor == pytest.approx(np.log1p(-kb.evidence_model.fit.hallmark_reporting * mark.coverage))
    _, _, full = case_arrays([laced], model)
    assert hallmark_log_factor(model, *full)[0, fc] == 0.0


def test_emergencies_are_never_discounted_for_a_missing_hallmark() -> None:
    kb = knowledge_base()
    assert kb.evidence_model is not None
    for mark in kb.evidence_model.hallmarks:
        condition = kb.conditions[mark.condition]
        assert not condition.emergency and condition.default_triage != "emergency", mark.condition


def test_central_findings_do_not_go_to_lumbar_radiculopathy() -> None:
    cord = intake("loc_thigh", "bilateral", "sx_weakness", "ex_hyperreflexia_or_babinski", "ex_sensory_level")
    assert leader(cord) != "lumbar_radiculopathy"
    stroke = intake("onset_sudden", "unilateral", "sx_weakness", "loc_face_or_arm", "sx_radiating_leg_pain")
    assert leader(stroke) == "stroke"


# --- fit ------------------------------------------------------------------------------------


def test_a_picture_no_condition_explains_is_called_a_poor_fit_with_what_to_do_next() -> None:
    kb = knowledge_base()
    assert kb.evidence_model is not None
    odd = intake("sx_fever", "sx_headache", "hx_recurrent_pressure_palsies", "loc_thigh", "worse_sitting")
    fit = assess_fit(default_model(), odd, posterior(odd))
    assert fit.poor
    triage = rank(odd).triage
    assert kb.evidence_model.fit.advice in triage.reasons and triage.level != "self_care"


def test_a_classic_picture_fits() -> None:
    classic = intake("loc_toes_3_4_web", "loc_ball_of_foot", "ex_mulder_click", "sx_pebble_or_lump_sensation")
    fit = assess_fit(default_model(), classic, posterior(classic))
    assert not fit.poor and fit.best_log_lr > 2
    model = knowledge_base().evidence_model
    assert model is not None
    assert model.fit.advice not in rank(classic).triage.reasons


# --- "other" as a leak: mimics of listed conditions (docs/ranking.md, section 7) ----------


def test_other_stays_a_live_possibility_when_a_listed_condition_fits() -> None:
    """A classic fibular palsy still leaves room for a cause outside the list that mimics it
    (pressure-palsy neuropathy, an intraneural ganglion): "other" keeps a few per cent instead
    of vanishing, and the one-case and batch paths agree."""
    import dataclasses

    model = default_model()
    other = model.condition_ids.index("other")
    case = intake("sx_foot_drop", "loc_lateral_leg", "loc_dorsum_foot", "hx_leg_crossing_kneeling_or_weight_loss",
                  patient=Patient(age=35, sex="male"))
    probs = posterior(case, model)
    assert model.condition_ids[int(np.argmax(probs))] == "common_fibular_neuropathy"
    assert 0.02 < probs[other] < 0.2
    assert np.allclose(posterior_batch([case], model)[0], probs)
    without = posterior(case, dataclasses.replace(model, other_mimic=0.0))
    assert without[other] < 0.005  # the background model alone: "other" had all but vanished
    assert probs.sum() == pytest.approx(1.0)


"""The case-fitted ranking correction (ranking_correction.yaml, docs/ranking.md section 9).

Data generated from data: these tests check the committed file is what the generator writes
from the spent cases it names (nobody edits it by hand), that the loader refuses a tampered
layer with the entry named, that the engine really applies it while red flags still win, and
that on held-out rounds it does what it was shipped for (the shipping gate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from devtools import fit_correction
from devtools.correction_fit import CorrectionParams, Design, train
from devtools.cv_correction import cross_validate, total
from devtools.fit_likelihoods import corpus_dirs
from services.differential.ranking import compile_model, default_model, posterior, posterior_batch, rank
from services.knowledge.clinical import Case, Patient, State
from services.knowledge.fitted import red_flag_ingredients
from services.knowledge.loader import CORRECTION_FILE, DATA_DIR, KnowledgeBaseError, load_knowledge_base
from tests.clinical import realcases
from tests.fold_memo import FoldMemo

COMMITTED = yaml.safe_load((DATA_DIR / CORRECTION_FILE).read_text())


def _flat(layer: dict[str, dict[str, dict[str, float]]]) -> dict[tuple[str, str, str], float]:
    return {(c, s, f): w for c, per in layer.items() for s, table in per.items() for f, w in table.items()}


def test_committed_layer_is_what_the_generator_writes(shared_folds: FoldMemo) -> None:
    """Regenerated from the corpora it names; equal up to the fit's float noise.

    The fit is deterministic for one BLAS thread count, but the summation order of the matrix
    products changes with the number of BLAS threads (the machine's cores), and Adam amplifies that
    on near-zero weights: one and two threads differ by up to 0.01 nats on weights that small. A
    drift above 0.02 nats is a real change of the corpus, the guard or the method.
    """
    base = load_knowledge_base(fitted=False, corrected=False)
    layer = fit_correction.build_layer(base, COMMITTED["corpus"]["sets"], CorrectionParams())
    assert layer["method"] == COMMITTED["method"] and layer["corpus"] == COMMITTED["corpus"]
    new, old = _flat(layer["weights"]), _flat(COMMITTED["weights"])
    drift = {k: (new.get(k, 0.0), old.get(k, 0.0)) for k in new.keys() | old.keys()
             if abs(new.get(k, 0.0) - old.get(k, 0.0)) > 0.02}
    assert not drift, f"ranking_correction.yaml differs from `make fit-correction`: {sorted(drift.items())[:5]}"
    assert {k: v for k, v in COMMITTED["method"].items() if k in CorrectionParams.__dataclass_fields__} == \
        CorrectionParams().__dict__, "`make fit-correction` uses the defaults, so they are the committed method"


def test_layer_uses_only_spent_sets() -> None:
    dirs = corpus_dirs()
    for name, digest in COMMITTED["corpus"]["sets"].items():
        assert realcases.was_run(dirs[name]), f"{name}: locked run not recorded, so not spent"
        assert realcases.corpus_digest(dirs[name]) == digest
    named = [c for name in COMMITTED["corpus"]["sets"] for c in realcases.load_corpus(dirs[name])]
    assert COMMITTED["corpus"]["cases"] == len(named) <= len(realcases.spent_cases())


def _case(**states: str) -> Case:
    return Case(patient=Patient(setting="general_adult", age=45, sex="male"),
                evidence={f: State(s) for f, s in states.items()})


def test_the_engine_applies_the_correction_and_the_batch_path_agrees() -> None:
    corrected, plain = default_model(), compile_model(load_knowledge_base(corrected=False))
    assert corrected.has_correction and not plain.has_correction
    case = _case(loc_toes="present", sx_radiating_leg_pain="present", ex_positive_slr="absent")
    with_layer, without = posterior(case, corrected), posterior(case, plain)
    assert not np.allclose(with_layer, without), "the layer changes the probabilities"
    assert with_layer.sum() == pytest.approx(1.0)
    assert np.allclose(posterior_batch([case], corrected)[0], with_layer)
    # Explanations stay the tables': the same evidence-for lists with and without the layer.
    top = rank(case, corrected).conditions[0]
    same = next(c for c in rank(case, plain).conditions if c.condition_id == top.condition_id)
    assert top.evidence_for == same.evidence_for


def test_red_flags_still_win() -> None:
    """Saddle numbness with sciatica is an emergency whatever the corrected probabilities say."""
    case = _case(loc_saddle_area="present", sx_radiating_leg_pain="present", loc_toes="present")
    assert rank(case, default_model()).triage.level == "emergency"


def test_a_weight_out_of_bounds_or_unknown_id_is_refused(data_copy: Path) -> None:
    data = data_copy
    layer = yaml.safe_load((data / CORRECTION_FILE).read_text())
    cid = next(iter(layer["weights"]))
    state = next(iter(layer["weights"][cid]))
    fid = next(iter(layer["weights"][cid][state]))
    layer["weights"][cid][state][fid] = 7.5
    layer["weights"][cid][state]["sx_no_such_finding"] = 0.1
    (data / CORRECTION_FILE).write_text(yaml.safe_dump(layer))
    with pytest.raises(KnowledgeBaseError, match=rf"weights.{cid}.{state}.{fid}: 7.5 exceeds") as err:
        load_knowledge_base(data, check_codes=False)
    assert "unknown finding 'sx_no_such_finding'" in str(err.value)


def test_a_red_flag_finding_turned_against_its_emergency_is_refused(data_copy: Path) -> None:
    """The guard: a red-flag finding present never lowers an emergency condition."""
    data = data_copy
    layer = yaml.safe_load((data / CORRECTION_FILE).read_text())
    base = load_knowledge_base(corrected=False)
    fid = sorted(red_flag_ingredients(base.red_flags))[0]
    cid = next(c for c in base.condition_ids if base.conditions[c].emergency)
    layer["weights"].setdefault(cid, {}).setdefault("present", {})[fid] = -0.5
    (data / CORRECTION_FILE).write_text(yaml.safe_dump(layer))
    with pytest.raises(KnowledgeBaseError, match=f"weights.{cid}.present.{fid}: a red-flag finding moved"):
        load_knowledge_base(data, check_codes=False)


def test_committed_weights_keep_the_guard() -> None:
    base = load_knowledge_base(corrected=False)
    guarded = red_flag_ingredients(base.red_flags)
    for (cid, state, fid), w in _flat(COMMITTED["weights"]).items():
        if fid in guarded:
            toward_emergency = w > 0 if state == "present" else w < 0
            assert toward_emergency == base.conditions[cid].emergency, (cid, state, fid, w)


def test_on_held_out_rounds_the_correction_helps_without_losing_emergencies(shared_folds: FoldMemo) -> None:
    """Why it ships: nested leave-one-round-out (fitted layer and correction fitted on the other
    rounds, scored on the held-out one) against the engine on the same cases. Top-1 and top-3
    must gain, emergencies and under-triage must not get worse, and Brier must fall
    (660 cases: top-1 0.470 -> 0.514, top-3 0.714 -> 0.744; docs/ranking.md section 9). The
    thresholds reading the corrected posterior (one posterior) are gated in test_one_posterior.py."""
    engine, (fitted,) = cross_validate(load_knowledge_base(fitted=False, corrected=False),
                                       realcases.spent_cases(), [CorrectionParams()])
    before, after = total(engine).figures(), total(fitted).figures()
    assert after["top1"] > before["top1"]
    assert after["top3"] > before["top3"]
    assert after["emergency_sensitivity"] >= before["emergency_sensitivity"]
    assert after["under_triage"] <= before["under_triage"]
    assert after["brier"] < before["brier"]


def _margin_design() -> tuple[Design, tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Forty cases sharing one finding: ten are the emergency (column 0), whose engine offset puts
    it at 10%, the rest split between two other conditions. The plain log loss cannot lift the
    emergency much above its share (a quarter), so it stays near the threshold's neighbourhood."""
    n, c = 40, 3
    offset = np.log(np.tile([0.10, 0.60, 0.30], (n, 1)))
    present = np.ones((n, 1))
    truth = np.array([0] * 10 + [1] * 18 + [2] * 12, dtype=np.intp)
    bounds = (np.full((2, c), -3.0), np.full((2, c), 3.0))
    return Design(offset, present, np.zeros((n, 1)), truth), bounds, np.array([True, False, False])


def _p_emergency(design: Design, w: np.ndarray) -> float:
    z = design.offset[0] + w[0]
    p = np.exp(z - z.max())
    return float(p[0] / p.sum())


def test_the_emergency_margin_lifts_an_emergency_the_plain_fit_leaves_under_it() -> None:
    """Round 10: a training emergency below ``emergency_margin`` weighs more in the loss, so the
    fit lifts the emergency's probability where the plain log loss leaves it (the refit over nine
    rounds left two spent emergencies at 11.7-11.8%, under the 12% threshold); with weight 0 the fit
    is exactly the plain one, and non-emergency cases never get the extra weight."""
    design, bounds, emergency = _margin_design()
    plain = train(design, bounds, CorrectionParams(emergency_weight=0.0), emergency)
    assert np.array_equal(plain, train(design, bounds, CorrectionParams(emergency_weight=0.0)))
    lifted = train(design, bounds, CorrectionParams(emergency_weight=1.0, emergency_margin=0.3), emergency)
    assert _p_emergency(design, lifted) > _p_emergency(design, plain) + 0.01
    # A margin already met changes nothing: the weight only acts below it.
    met = train(design, bounds, CorrectionParams(emergency_weight=1.0, emergency_margin=0.05), emergency)
    assert np.allclose(met, plain, rtol=0, atol=1e-9)
    # The extra weight is the emergency's: the same weight on a non-emergency column changes nothing.
    none = train(design, bounds, CorrectionParams(emergency_weight=1.0, emergency_margin=0.3),
                 np.array([False, False, False]))
    assert np.array_equal(none, plain)


def test_the_committed_margin_sits_above_the_emergency_threshold() -> None:
    """A margin at or below the emergency threshold would let a training emergency rest just under
    the level at which triage calls an emergency; the committed margin clears the policy's."""
    policy = load_knowledge_base().triage_policy
    assert COMMITTED["method"]["emergency_weight"] > 0
    assert COMMITTED["method"]["emergency_margin"] > policy.emergency_condition_threshold


def test_an_emergency_margin_out_of_range_is_refused(data_copy: Path) -> None:
    data = data_copy
    layer = yaml.safe_load((data / CORRECTION_FILE).read_text())
    layer["method"]["emergency_margin"] = 1.5
    (data / CORRECTION_FILE).write_text(yaml.safe_dump(layer))
    with pytest.raises(KnowledgeBaseError, match="emergency_margin"):
        load_knowledge_base(data, check_codes=False)

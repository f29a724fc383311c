"""The case-fitted likelihood layer (fitted_likelihoods.yaml, docs/ranking.md section 8).

It is data generated from data: these tests check the committed file is exactly what the
generator writes from the spent cases it names (so nobody edits it by hand), that it never
draws on a locked set whose run is not recorded, that the loader refuses a tampered or stale
layer with the pair named, and that on held-out folds the fit does what it was shipped for.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from devtools import fit_likelihoods
from devtools.casefit import FitParams, fit_counts, intake_case, prior_table
from devtools.cv_likelihoods import cross_validate
from services.differential.ranking import compile_model, default_model
from services.knowledge.clinical import State
from services.knowledge.fitted import red_flag_ingredients
from services.knowledge.loader import DATA_DIR, FITTED_FILE, KnowledgeBaseError, load_knowledge_base
from tests.clinical import realcases
from tests.fold_memo import FoldMemo

COMMITTED = yaml.safe_load((DATA_DIR / FITTED_FILE).read_text())


def committed_params() -> FitParams:
    method = COMMITTED["method"]
    return FitParams(**{f.name: method[f.name] for f in fields(FitParams)})


def test_committed_layer_is_what_the_generator_writes() -> None:
    base = load_knowledge_base(fitted=False)
    layer = fit_likelihoods.build_layer(base, COMMITTED["corpus"]["sets"], committed_params())
    regenerated = fit_likelihoods.render(layer)
    assert regenerated == (DATA_DIR / FITTED_FILE).read_text(), (
        "fitted_likelihoods.yaml differs from what `make fit-likelihoods` writes: regenerate it, never edit it"
    )
    # `make fit-likelihoods` uses the defaults, so they are the committed method.
    assert committed_params() == FitParams()


def test_layer_uses_only_spent_sets() -> None:
    sets = COMMITTED["corpus"]["sets"]
    dirs = fit_likelihoods.corpus_dirs()
    for name, digest in sets.items():
        assert realcases.was_run(dirs[name]), f"{name}: locked run not recorded, so not spent"
        assert realcases.corpus_digest(dirs[name]) == digest
    spent_ids = {c.id for c in realcases.spent_cases()}
    assert all(c.id in spent_ids for c in fit_likelihoods.cases_of(sets))
    assert COMMITTED["corpus"]["cases"] == len(fit_likelihoods.cases_of(sets))


def test_an_unspent_set_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no locked run recorded, no set is spent and the generator refuses to fit any."""
    ledger = tmp_path / "locked_runs.jsonl"
    ledger.write_text("")
    monkeypatch.setattr(realcases, "LOCKED_LEDGER", ledger)
    assert fit_likelihoods.spent_sets() == {}
    with pytest.raises(ValueError, match="unspent set is never fitted"):
        fit_likelihoods.cases_of(COMMITTED["corpus"]["sets"])


def test_the_engine_uses_the_fitted_values_and_the_priors_without_the_layer() -> None:
    fitted, unfitted = default_model(), compile_model(load_knowledge_base(fitted=False))
    assert COMMITTED["updates"], "the layer fits at least one pair"
    for cid, per in COMMITTED["updates"].items():
        ci = fitted.condition_ids.index(cid)
        for fid, pair in per.items():
            fi = fitted.finding_index[fid]
            assert fitted.p[ci, fi] == pytest.approx(pair["p"])
            assert unfitted.p[ci, fi] == pytest.approx(pair["prior"], abs=1e-6)
            lik = fitted.kb.likelihoods[cid][fid]
            assert lik.estimate and "footcds_case_corpus" in lik.citations


def test_counts_are_taken_after_the_intake_implications() -> None:
    """A case that states a foot drop counts as stating weakness too (the intake closes it)."""
    base = load_knowledge_base(fitted=False)
    case = next(c for c in realcases.spent_cases() if any(f.id == "sx_foot_drop" and f.state == "present"
                                                            for f in c.evidence))
    assert intake_case(base, case).evidence["sx_weakness"] is State.PRESENT
    _, counts = fit_counts(base, [case])
    assert counts[(case.expected.condition, "sx_weakness")].present == 1
    assert not any(f == "hx_age_over_50" for _, f in counts), "age stand-ins are never fitted"


def test_a_hand_edited_value_is_refused(data_copy: Path) -> None:
    data = data_copy
    layer = yaml.safe_load((data / FITTED_FILE).read_text())
    cid = next(iter(layer["updates"]))
    fid = next(iter(layer["updates"][cid]))
    layer["updates"][cid][fid]["p"] = 0.9 if layer["updates"][cid][fid]["p"] < 0.5 else 0.1
    (data / FITTED_FILE).write_text(yaml.safe_dump(layer))
    with pytest.raises(KnowledgeBaseError, match=f"updates.{cid}.{fid}.*does not follow"):
        load_knowledge_base(data, check_codes=False)


def test_a_listed_pair_in_the_layer_is_refused(data_copy: Path) -> None:
    """The layer updates pairs the tables leave at the background; a listed one is theirs."""
    data = data_copy
    layer = yaml.safe_load((data / FITTED_FILE).read_text())
    base = load_knowledge_base(fitted=False)
    cid, per = next((c, per) for c, per in base.likelihoods.items() if c in layer["updates"])
    fid, lik = next(iter(per.items()))
    n = committed_params().min_stated
    layer["updates"][cid][fid] = {"prior": lik.p, "k": 4.0, "present": n, "absent": 0,
                                  "p": round((4.0 * lik.p + n) / (4.0 + n), 4)}
    (data / FITTED_FILE).write_text(yaml.safe_dump(layer))
    with pytest.raises(KnowledgeBaseError, match=f"updates.{cid}.{fid}: a listed pair"):
        load_knowledge_base(data, check_codes=False)


def test_on_held_out_folds_the_fit_helps_without_losing_emergencies(shared_folds: FoldMemo) -> None:
    """Why it ships: grouped 5-fold CV (folds by source), fitted on four folds, scored on the
    fifth, against the engine without the layer on the same held-out cases. It must lose no
    emergency and add no under-triage, gain top-3 and Brier, and rank better on top-1 and top-3
    together. (Top-1 alone was a strict gain on 346 and 509 spent cases and a tie or one case
    since; on the 732 cases of rounds 1-8, k = 4: top-1 0.4754 -> 0.4740 (one case), top-3 0.710
    -> 0.717, emergencies 0.893 -> 0.903, under-triage 48 -> 45, Brier 0.698 -> 0.690. With the
    correction fitted on top, nested by round, the layer is worth top-3 +9 cases and 2
    emergencies against no layer, top-1 -1; stronger shrinkage (k 8 / 16) restores the layer's own
    top-1 but loses 1 / 2 emergencies in that pipeline: docs/ranking.md section 8, round 9.)"""
    base = load_knowledge_base(fitted=False)
    cases = fit_likelihoods.cases_of(COMMITTED["corpus"]["sets"])
    engine, (fitted,) = cross_validate(base, cases, [committed_params()])
    before, after = engine.figures(), fitted.figures()
    assert after["emergency_sensitivity"] >= before["emergency_sensitivity"]
    assert after["under_triage"] <= before["under_triage"]
    assert after["top1"] + after["top3"] > before["top1"] + before["top3"]
    n = len(cases)
    assert round(after["top1"] * n) >= round(before["top1"] * n) - 1, "the layer costs at most one top-1 case"
    assert after["top3"] > before["top3"]
    assert after["brier"] < before["brier"]


def test_a_red_flag_finding_raised_for_a_non_emergency_is_refused(data_copy: Path) -> None:
    """The red-flag guard: the fit never makes a red-flag ingredient (here weakness or
    progression) better evidence for a non-emergency than the tables do, so it cannot take an
    emergency's place on the findings that flag it (docs/ranking.md, section 8)."""
    data = data_copy
    layer = yaml.safe_load((data / FITTED_FILE).read_text())
    assert layer["method"]["red_flag_guard"] is True
    base = load_knowledge_base(fitted=False)
    ingredients = red_flag_ingredients(base.red_flags)
    prior = prior_table(base)
    cid, fid = next(
        (c, f) for c in base.condition_ids for f in sorted(ingredients)
        if not base.conditions[c].emergency and c != "other" and f not in base.likelihoods.get(c, {})
        and f not in layer["updates"].get(c, {})
    )
    p0 = float(prior[base.condition_ids.index(cid), base.finding_ids.index(fid)])
    layer["updates"].setdefault(cid, {})[fid] = {"prior": round(p0, 6), "k": 4.0, "present": 5, "absent": 0,
                                                 "p": round((4.0 * round(p0, 6) + 5) / 9.0, 4)}
    (data / FITTED_FILE).write_text(yaml.safe_dump(layer))
    with pytest.raises(KnowledgeBaseError, match=f"updates.{cid}.{fid}: a red-flag finding moved"):
        load_knowledge_base(data, check_codes=False)


def test_the_generated_layer_keeps_the_guard() -> None:
    """Every committed pair on a red-flag ingredient moves toward its emergency, never away."""
    base = load_knowledge_base(fitted=False)
    ingredients = red_flag_ingredients(base.red_flags)
    moved = [(cid, fid, pair) for cid, per in COMMITTED["updates"].items()
             for fid, pair in per.items() if fid in ingredients]
    for cid, fid, pair in moved:
        if base.conditions[cid].emergency:
            assert pair["p"] >= pair["prior"], (cid, fid)
        else:
            assert pair["p"] <= pair["prior"], (cid, fid)

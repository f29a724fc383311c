"""Nested leave-one-round-out cross-validation of the ranking correction (docs/ranking.md, section 9).

Why: the next blind round is written by other writers on other sources, so each spent round is
held out in turn; the fitted likelihood layer AND the correction are fitted on the other rounds
only (the correction's offsets out of fold within those rounds), and the held-out round is ranked
and triaged (the Assess path's ranking and triage) by the engine without the correction and with
it, on the same cases.

    .venv/bin/python -m devtools.cv_correction            # chosen parameters vs the engine, per round
    .venv/bin/python -m devtools.cv_correction --grid     # the penalty search
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace

from devtools.casefit import intake_case, prior_table
from devtools.correction_fit import CorrectionParams, fit_weights, fitted_kb, out_of_fold_design, weight_table
from devtools.cv_likelihoods import Scores, score
from services.knowledge.correction import RankingCorrection
from services.knowledge.loader import KnowledgeBase, load_knowledge_base
from tests.clinical.realcases import RealCase, spent_cases


def corrected(kb: KnowledgeBase, weights: dict[str, dict[str, dict[str, float]]],
              params: CorrectionParams) -> KnowledgeBase:
    layer = RankingCorrection.model_validate({
        "method": {"description": "cross-validation fold", "l2": params.l2, "iterations": params.iterations,
                   "learning_rate": params.learning_rate, "red_flag_guard": params.red_flag_guard,
                   "min_weight": params.min_weight, "emergency_weight": params.emergency_weight,
                   "emergency_margin": params.emergency_margin, "cross_validation": "fold"},
        "corpus": {"citations": ["footcds_case_corpus"], "sets": {"fold": "-"}, "cases": 1},
        "weights": weights,
    })
    return replace(kb, correction=layer)


def cross_validate(
    base: KnowledgeBase, cases: Sequence[RealCase], grid: Sequence[CorrectionParams]
) -> tuple[dict[int, Scores], list[dict[int, Scores]]]:
    """Per held-out round: the engine's scores (fitted layer from the other rounds) and each
    parameter set's (correction fitted on the other rounds, nested)."""
    prior = prior_table(base)
    engine: dict[int, Scores] = {}
    results: list[dict[int, Scores]] = [{} for _ in grid]
    for held_round in sorted({c.corpus_round for c in cases}):
        held = [c for c in cases if c.corpus_round == held_round]
        train_cases = [c for c in cases if c.corpus_round != held_round]
        kb = fitted_kb(base, train_cases, prior)
        intake = [intake_case(base, c) for c in held]
        engine[held_round] = score(kb, held, intake)
        design = out_of_fold_design(base, train_cases, prior)
        for params, result in zip(grid, results, strict=True):
            w = fit_weights(base, design, params)
            result[held_round] = score(corrected(kb, weight_table(base, w, params), params), held, intake)
    return engine, results


def total(per_round: dict[int, Scores]) -> Scores:
    out = Scores()
    for s in per_round.values():
        out.add(s)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="score the penalty / guard search")
    args = parser.parse_args(argv)
    grid = ([CorrectionParams(l2=l2, red_flag_guard=g) for l2 in (0.1, 0.03, 0.01, 0.005) for g in (True, False)]
            if args.grid else [CorrectionParams()])
    engine, results = cross_validate(load_knowledge_base(fitted=False, corrected=False), spent_cases(), grid)
    rows = [("engine (fitted layer, no correction)", engine)] + [
        (f"correction l2={p.l2:g}" + (" red_flag_guard" if p.red_flag_guard else ""), r)
        for p, r in zip(grid, results, strict=True)]
    for name, per_round in rows:
        print(json.dumps({"model": name, "held_out": "all rounds", **total(per_round).figures()}))
        for r, s in sorted(per_round.items()):
            print(json.dumps({"model": name, "held_out": f"round {r}", **s.figures()}))


if __name__ == "__main__":
    main()

"""Grouped K-fold cross-validation of the case-fitted likelihoods (docs/ranking.md, section 8).

Why: a fit scored on the cases it was fitted to always looks good. Here each fold's cases
(grouped by a hash of their source, so one case series never spans folds) are scored by a
model fitted on the other folds only, and by the current engine, on the same held-out cases.

    .venv/bin/python -m devtools.cv_likelihoods            # chosen parameters vs the engine
    .venv/bin/python -m devtools.cv_likelihoods --grid     # the parameter search, every row
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from devtools.casefit import (
    FitParams,
    cases_by_fold,
    fit_counts,
    fitted_pairs,
    intake_case,
    prior_table,
    with_fit,
)
from services.differential.explain import forget_explain_tables
from services.differential.ranking import compile_model, rank_batch
from services.knowledge.clinical import Case
from services.knowledge.loader import KnowledgeBase, load_knowledge_base
from tests.clinical.realcases import RealCase, spent_cases, under_triage_steps

FOLDS = 5


@dataclass
class Scores:
    """Figures a clinician would ask for, summed over held-out cases."""

    n: int = 0
    top1: int = 0
    top3: int = 0
    triage: int = 0
    emergencies: int = 0
    caught: int = 0
    others: int = 0
    raised: int = 0
    under: int = 0
    brier: float = 0.0

    def add(self, other: Scores) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {
            "cases": self.n,
            "top1": round(self.top1 / n, 4),
            "top3": round(self.top3 / n, 4),
            "triage_exact": round(self.triage / n, 4),
            "under_triage": self.under,
            "emergency_sensitivity": round(self.caught / max(self.emergencies, 1), 4),
            "non_emergencies_raised_to_emergency": round(self.raised / max(self.others, 1), 4),
            "brier": round(self.brier / n, 4),
        }



def score(kb: KnowledgeBase, cases: Sequence[RealCase], intake: Sequence[Case]) -> Scores:
    """The held-out cases ranked and triaged by ``kb`` (the Assess path's ranking and triage)."""
    model = compile_model(kb)
    out = Scores()
    for case, diff in zip(cases, rank_batch(list(intake), model), strict=True):
        ranked = [c.condition_id for c in diff.conditions]
        truth = case.expected.condition
        level = diff.triage.level
        out.n += 1
        out.top1 += ranked[0] == truth
        out.top3 += truth in ranked[:3]
        out.triage += level == case.expected.triage
        out.under += under_triage_steps(case.expected.triage, level) > 0
        if case.is_emergency:
            out.emergencies += 1
            out.caught += level == "emergency"
        else:
            out.others += 1
            out.raised += level == "emergency"
        out.brier += sum((c.probability - (c.condition_id == truth)) ** 2 for c in diff.conditions)
    # A search compiles hundreds of models; their cached explain tables would pin them all.
    forget_explain_tables(model)
    return out


@dataclass(frozen=True)
class Evidence:
    """Evidence-model scalars (evidence_model.yaml ``fit``) to score with; None keeps the file's."""

    hallmark_reporting: float | None = None
    other_mimic_share: float | None = None

    def apply(self, kb: KnowledgeBase) -> KnowledgeBase:
        model = kb.evidence_model
        if model is None or (self.hallmark_reporting is None and self.other_mimic_share is None):
            return kb
        update = {k: v for k, v in (("hallmark_reporting", self.hallmark_reporting),
                                     ("other_mimic_share", self.other_mimic_share)) if v is not None}
        fit = model.fit.model_copy(update=update)
        return replace(kb, evidence_model=model.model_copy(update={"fit": fit}))


def cross_validate(
    base: KnowledgeBase, cases: Sequence[RealCase], grid: Sequence[FitParams], folds: int = FOLDS,
    *, by_round: bool = False, evidence: Sequence[Evidence] = (Evidence(),),
) -> tuple[Scores, list[Scores]]:
    """The engine's held-out scores and each parameter set's, on the same folds.

    ``by_round``: one fold per corpus round instead (fit on two rounds, score the third, written
    blind by other writers on other sources): the situation of the next blind round.
    ``evidence``: each parameter set is scored with each of these evidence-model settings
    (results in the order grid x evidence); the engine keeps the file's.
    """
    if by_round:
        rounds = sorted({c.corpus_round for c in cases})
        split = [[c for c in cases if c.corpus_round == r] for r in rounds]
        folds = len(split)
    else:
        split = cases_by_fold(cases, folds)
    intake = [[intake_case(base, c) for c in fold] for fold in split]
    prior = prior_table(base)
    engine = Scores()
    variants = list(itertools.product(grid, evidence))
    results = [Scores() for _ in variants]
    for held in range(folds):
        train = [c for i, fold in enumerate(split) if i != held for c in fold]
        _, counts = fit_counts(base, train)
        engine.add(score(base, split[held], intake[held]))
        for (params, setting), result in zip(variants, results, strict=True):
            fitted = setting.apply(with_fit(base, fitted_pairs(base, counts, params, prior)))
            result.add(score(fitted, split[held], intake[held]))
    return engine, results


def parameter_grid() -> list[FitParams]:
    """The search: which rows are fitted, prior strengths, absent weight, the minimum count."""
    out = []
    for listed, kl, ku, w, other, emerg, min_stated in itertools.product(
        (False, True), (20.0, 80.0, 160.0), (2.0, 4.0, 8.0, 16.0), (0.5, 1.0), (False, True), (True, False),
        (1, 2, 3, 5),
    ):
        if listed or kl == 20.0:  # k_listed only matters when listed pairs are fitted
            out.append(FitParams(fit_listed=listed, k_listed=kl, k_unlisted=ku, absent_weight=w,
                                 fit_other=other, fit_emergency=emerg, min_stated=min_stated))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="score every parameter set of the search")
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--by-round", action="store_true", help="leave one corpus round out instead")
    parser.add_argument("--evidence", action="store_true",
                        help="with the chosen fit, search hallmark_reporting x other_mimic_share")
    parser.add_argument("--guard", action="store_true",
                        help="the chosen fit with and without the red-flag guard, same folds")
    args = parser.parse_args(argv)
    base = load_knowledge_base(fitted=False)
    cases = spent_cases()
    grid = parameter_grid() if args.grid else [FitParams()]
    if args.guard:
        grid = [replace(p, red_flag_guard=g) for p in grid for g in (False, True)]
    evidence = EVIDENCE_GRID if args.evidence else (Evidence(),)
    engine, results = cross_validate(base, cases, grid, args.folds, by_round=args.by_round, evidence=evidence)
    print(json.dumps({"model": "engine (knowledge base, no fit)", **engine.figures()}))
    names = [_name(p) + _evidence_name(e) for p, e in itertools.product(grid, evidence)]
    rows = sorted(zip(names, results, strict=True), key=lambda r: -(r[1].top1 + r[1].triage) / max(r[1].n, 1))
    for name, result in rows:
        print(json.dumps({"model": name, **result.figures()}))


EVIDENCE_GRID = tuple(
    Evidence(r, m) for r, m in itertools.product((0.6, 0.7, 0.8, 0.9), (0.5, 0.65, 0.8, 0.9))
)


def _evidence_name(e: Evidence) -> str:
    if e.hallmark_reporting is None and e.other_mimic_share is None:
        return ""
    return f" hallmark_reporting={e.hallmark_reporting} other_mimic_share={e.other_mimic_share}"


def _name(p: FitParams) -> str:
    listed = f"k_listed={p.k_listed:g}" if p.fit_listed else "listed=kept"
    return (f"fit {listed} k_unlisted={p.k_unlisted:g} absent_weight={p.absent_weight:g} "
            f"other={'fit' if p.fit_other else 'kept'} emergency={'fit' if p.fit_emergency else 'kept'} "
            f"min_stated={p.min_stated}" + (" red_flag_guard" if p.red_flag_guard else ""))


if __name__ == "__main__":
    main()

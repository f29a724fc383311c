"""Calibration temperature and triage probability thresholds, chosen together held out.

Why: a temperature (``p^(1/T)``, renormalised) changes the probabilities triage compares with
its thresholds (``triage.yaml: policy``; ``policy.yaml: triage.self_care_min_probability``), and
raises small probabilities more than large ones, so the two cannot be chosen apart (round 6,
docs/knowledge-changes-round6.md). Here every case is ranked by a model fitted without its
fold (``cv_likelihoods``: the case-fitted layer from the other folds), once; the held-out
probabilities, red flags and fit verdicts are kept, and each (temperature, thresholds)
setting re-triages them with the engine's own ``triage_for``. A temperature never changes the
order, so top-1 / top-3 and the poor-fit verdict (which reads the leader only) do not move.

    .venv/bin/python -m devtools.cv_calibration             # 5 folds by source
    .venv/bin/python -m devtools.cv_calibration --by-round  # leave one corpus round out
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from devtools.casefit import FitParams, cases_by_fold, fit_counts, fitted_pairs, intake_case, prior_table, with_fit
from devtools.triage_tally import Tally, thresholds_applied
from services.differential.explain import forget_explain_tables
from services.differential.fit import poor_fit_batch
from services.differential.ranking import Array, _batch_probabilities, compile_model, triage_for
from services.knowledge.clinical import RedFlagHit
from services.knowledge.loader import KnowledgeBase, load_knowledge_base
from services.knowledge.red_flags import detect_red_flags
from tests.clinical.realcases import RealCase, spent_cases


@dataclass(frozen=True)
class HeldOut:
    """One case scored by a model that never saw its fold (at temperature 1)."""

    case: RealCase
    probs: Array  # the posterior the list shows and triage reads (one posterior since round 8)
    red_flags: tuple[RedFlagHit, ...]
    poor_fit: bool
    present: frozenset[str] = frozenset()  # the findings triage reads (round 11: an emergency's setting)


@dataclass(frozen=True)
class Setting:
    """A temperature and the triage thresholds it is judged with."""

    temperature: float
    emergency: float
    dont_miss: float
    urgent: float
    self_care: float


def held_out(base: KnowledgeBase, cases: Sequence[RealCase], params: FitParams | None,
             *, by_round: bool, folds: int = 5) -> tuple[list[HeldOut], list[str]]:
    """Every case's held-out probabilities (fit from the other folds; ``params`` None: no fit)."""
    if by_round:
        rounds = sorted({c.corpus_round for c in cases})
        split = [[c for c in cases if c.corpus_round == r] for r in rounds]
    else:
        split = cases_by_fold(cases, folds)
    prior = prior_table(base)
    out: list[HeldOut] = []
    ids: list[str] = []
    for held, fold in enumerate(split):
        train = [c for i, f in enumerate(split) if i != held for c in f]
        kb = base
        if params is not None:
            _, counts = fit_counts(base, train)
            kb = with_fit(base, fitted_pairs(base, counts, params, prior))
        model = compile_model(kb)
        ids = list(model.condition_ids)
        intake = [intake_case(base, c) for c in fold]
        probs, log_lr, counted, _ = _batch_probabilities(intake, model)
        poor = poor_fit_batch(model, probs, log_lr, counted[0])
        for case, row, bad, ic in zip(fold, probs, poor, intake, strict=True):
            out.append(HeldOut(case, row, tuple(detect_red_flags(kb, ic.present())), bool(bad),
                               frozenset(ic.present())))
        forget_explain_tables(model)
    return out, ids


def tempered(probs: Array, temperature: float) -> Array:
    """``p^(1/T)`` renormalised: the softmax of the log scores divided by T."""
    if temperature == 1.0:
        return probs
    logp = np.log(np.maximum(probs, 1e-300)) / temperature
    e = np.exp(logp - logp.max())
    out: Array = e / e.sum()
    return out


def evaluate(base: KnowledgeBase, rows: Sequence[HeldOut], ids: Sequence[str], s: Setting) -> Mapping[str, float]:
    """Triage and Brier of the held-out rows under one setting (top-1 / top-3 do not depend on it)."""
    tally = Tally(ids)
    with thresholds_applied(base, s.emergency, s.dont_miss, s.urgent, s.self_care) as model:
        for r in rows:
            p = tempered(r.probs, s.temperature)
            level = triage_for(model, dict(zip(ids, p.tolist(), strict=True)), r.red_flags, r.poor_fit,
                               present=r.present).level
            tally.add(r.case, p, level, r.red_flags)
    return tally.figures()


# The search (docs/ranking.md, section 8): temperature x the emergency / don't-miss / urgent thresholds
# (triage.yaml policy) x the self-care share (policy.yaml).
GRID: dict[str, tuple[float, ...]] = {
    "temperature": (1.0, 1.1, 1.2, 1.3, 1.4),
    "emergency": (0.08, 0.09, 0.1, 0.11, 0.12),
    "dont_miss": (0.01, 0.015, 0.02, 0.03),
    "urgent": (0.25, 0.3, 0.35),
    "self_care": (0.4, 0.5, 0.6),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-round", action="store_true")
    parser.add_argument("--no-fit", action="store_true", help="the engine without the layer")
    parser.add_argument("--k", type=float, default=None)
    parser.add_argument("--min-stated", type=int, default=None)
    args = parser.parse_args(argv)
    base = load_knowledge_base(fitted=False)
    params = None if args.no_fit else FitParams()
    if params is not None and args.k is not None:
        params = replace(params, k_unlisted=args.k)
    if params is not None and args.min_stated is not None:
        params = replace(params, min_stated=args.min_stated)
    rows, ids = held_out(base, spent_cases(), params, by_round=args.by_round)
    for values in itertools.product(*GRID.values()):
        setting = Setting(*values)
        print(json.dumps({**asdict(setting), **evaluate(base, rows, ids, setting)}))


if __name__ == "__main__":
    main()

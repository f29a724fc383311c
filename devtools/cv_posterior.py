"""Nested leave-one-round-out cross-validation of the whole probability side (round 8).

Why: the fitted likelihood layer (docs/ranking.md s.8), the ranking correction (s.9) and the
triage probability thresholds are chosen on the same spent rounds, and the next blind round is
written by other writers on other sources. For each held-out round every layer is fitted on the
other rounds only (the correction with its own out-of-fold offsets within them), and the held-out
cases' corrected and uncorrected ("tables") posteriors, red flags and fit verdicts are kept. Then:

* ``--layers``: each (k, absent weight, l2) setting's held-out top-1 / top-3 / Brier and triage.
* ``--thresholds``: the held-out rows re-triaged (the engine's own ``triage_for``) with the
  thresholds reading the tables' posterior (``split``, round 7's engine) or the corrected one the
  list shows (``one``), under a grid of thresholds; the thresholds of each held-out round are
  chosen on the other rounds' held-out rows only (nested), with safety first: no fewer
  emergencies caught and no more under-triage than the split engine with the file's thresholds
  on those rounds, then the fewest non-emergencies raised to emergency, then exact triage.

    OMP_NUM_THREADS=1 .venv/bin/python -m devtools.cv_posterior --layers
    OMP_NUM_THREADS=1 .venv/bin/python -m devtools.cv_posterior --thresholds
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from devtools.casefit import FitParams, intake_case, prior_table
from devtools.correction_fit import CorrectionParams, fit_weights, fitted_kb, out_of_fold_design, weight_table
from devtools.cv_correction import corrected
from devtools.triage_tally import Tally, thresholds_applied
from services.differential.explain import forget_explain_tables
from services.differential.fit import poor_fit_batch
from services.differential.ranking import Array, _batch_probabilities, compile_model, triage_for
from services.knowledge.clinical import RedFlagHit
from services.knowledge.loader import KnowledgeBase, load_knowledge_base
from services.knowledge.policy import clinical_policy
from services.knowledge.red_flags import detect_red_flags
from tests.clinical.realcases import RealCase, spent_cases


@dataclass(frozen=True)
class Row:
    """One case as the engine fitted without its round sees it."""

    case: RealCase
    probs: Array  # corrected: the list the clinician reads
    tables: Array  # without the ranking correction
    red_flags: tuple[RedFlagHit, ...]
    poor_fit: bool
    present: frozenset[str] = frozenset()  # the findings triage reads (round 11: an emergency's setting)


@dataclass(frozen=True)
class Thresholds:
    emergency: float
    dont_miss: float
    urgent: float
    self_care: float


def held_out_rows(base: KnowledgeBase, cases: Sequence[RealCase], fit: FitParams,
                  l2s: Sequence[float], params: CorrectionParams | None = None) -> dict[float, list[Row]]:
    """Per l2, every spent case's held-out row (both layers fitted on the other rounds); the
    correction's other settings are ``params``' (default: the committed method's)."""
    template = params or CorrectionParams()
    rows = held_out_rows_many(base, cases, fit, [replace(template, l2=l2) for l2 in l2s])
    return dict(zip(l2s, rows, strict=True))


def held_out_rows_many(base: KnowledgeBase, cases: Sequence[RealCase], fit: FitParams,
                       settings: Sequence[CorrectionParams]) -> list[list[Row]]:
    """Per correction setting, every spent case's held-out row; the fitted layer and the correction's
    out-of-fold offsets are fitted once per held-out round and shared by the settings."""
    prior = prior_table(base)
    out: list[list[Row]] = [[] for _ in settings]
    for r in sorted({c.corpus_round for c in cases}):
        held = [c for c in cases if c.corpus_round == r]
        rest = [c for c in cases if c.corpus_round != r]
        kb = fitted_kb(base, rest, prior, fit)
        design = out_of_fold_design(base, rest, prior, fit)
        intake = [intake_case(base, c) for c in held]
        flags = [tuple(detect_red_flags(base, ic.present())) for ic in intake]
        for one, sink in zip(settings, out, strict=True):
            w = fit_weights(base, design, one)
            model = compile_model(corrected(kb, weight_table(base, w, one), one))
            probs, log_lr, counted, tables = _batch_probabilities(intake, model)
            poor = poor_fit_batch(model, probs, log_lr, counted[0]).tolist()
            sink.extend(Row(c, p, t, f, bool(b), frozenset(ic.present()))
                        for c, p, t, f, b, ic in zip(held, probs, tables, flags, poor, intake, strict=True))
            forget_explain_tables(model)
    return out


def evaluate(base: KnowledgeBase, ids: Sequence[str], rows: Iterable[Row], t: Thresholds,
             *, one: bool) -> Mapping[str, float]:
    """Ranking and triage figures of ``rows``; ``one``: the thresholds read the corrected posterior."""
    tally = Tally(ids)
    with thresholds_applied(base, t.emergency, t.dont_miss, t.urgent, t.self_care) as model:
        for r in rows:
            shown = dict(zip(ids, r.probs.tolist(), strict=True))
            read = shown if one else dict(zip(ids, r.tables.tolist(), strict=True))
            level = triage_for(model, read, r.red_flags, r.poor_fit, shown=None if one else shown,
                               present=r.present).level
            tally.add(r.case, r.probs, level, r.red_flags)
    return tally.figures()



GRID: dict[str, tuple[float, ...]] = {
    "emergency": (0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25),
    "dont_miss": (0.01, 0.015, 0.02, 0.03),
    "urgent": (0.25, 0.35, 0.45),
    "self_care": (0.4, 0.5, 0.6),
}


def file_thresholds(base: KnowledgeBase) -> Thresholds:
    p = base.triage_policy
    return Thresholds(p.emergency_condition_threshold, p.dont_miss_threshold, p.urgent_condition_threshold,
                      clinical_policy().triage.self_care_min_probability.value)


def choose(base: KnowledgeBase, ids: Sequence[str], rows: Sequence[Row], one: bool,
           reference: Mapping[str, float]) -> Thresholds:
    """Safety first against ``reference`` (caught not lower, under-triage by one or two levels not
    higher), then the fewest raised to emergency, then the most exact, then the fewest two-level under-triages."""
    best: tuple[tuple[float, ...], Thresholds] | None = None
    for values in itertools.product(*GRID.values()):
        t = Thresholds(*values)
        f = evaluate(base, ids, rows, t, one=one)
        if (f["emergencies_caught"] < reference["emergencies_caught"] or f["under_triage"] > reference["under_triage"]
                or f["under_triage_two_levels"] > reference["under_triage_two_levels"]):
            continue
        key = (f["raised"], -f["exact"], f["under_triage_two_levels"], f["under_triage"])
        if best is None or key < best[0]:
            best = (key, t)
    return best[1] if best is not None else file_thresholds(base)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", action="store_true", help="the (k, absent weight, l2) search")
    parser.add_argument("--thresholds", action="store_true", help="one posterior vs split, thresholds nested")
    parser.add_argument("--k", type=float, default=FitParams().k_unlisted)
    parser.add_argument("--w", type=float, default=FitParams().absent_weight)
    parser.add_argument("--l2", type=float, default=CorrectionParams().l2)
    parser.add_argument("--cache", default="", help="pickle of the held-out rows (scratch; rebuilt if absent)")
    args = parser.parse_args(argv)
    base = load_knowledge_base(fitted=False, corrected=False)
    ids = list(compile_model(base).condition_ids)
    cases = spent_cases()
    mine = file_thresholds(base)
    if args.layers:
        for k, w in itertools.product((2.0, 4.0, 8.0), (0.5, 1.0)):
            fit = replace(FitParams(), k_unlisted=k, absent_weight=w)
            for l2, rows in held_out_rows(base, cases, fit, (0.02, 0.01, 0.005)).items():
                name = {"k": k, "w": w, "l2": l2}
                print(json.dumps({**name, "held_out": "all", **evaluate(base, ids, rows, mine, one=False)}), flush=True)
                for r in sorted({x.case.corpus_round for x in rows}):
                    sub = [x for x in rows if x.case.corpus_round == r]
                    print(json.dumps({**name, "held_out": r, **evaluate(base, ids, sub, mine, one=False)}), flush=True)
    if args.thresholds:
        fit = replace(FitParams(), k_unlisted=args.k, absent_weight=args.w)
        cache = Path(args.cache) if args.cache else None
        if cache is not None and cache.exists():
            rows = pickle.loads(cache.read_bytes())
        else:
            rows = held_out_rows(base, cases, fit, (args.l2,))[args.l2]
            if cache is not None:
                cache.write_bytes(pickle.dumps(rows))
        rounds = sorted({x.case.corpus_round for x in rows})
        for one in (False, True):
            for r in rounds:
                rest = [x for x in rows if x.case.corpus_round != r]
                held = [x for x in rows if x.case.corpus_round == r]
                ref = evaluate(base, ids, rest, mine, one=False)
                t = choose(base, ids, rest, one, ref)
                print(json.dumps({"mode": "one" if one else "split", "held_out": r, "chosen": asdict(t),
                                  "file": evaluate(base, ids, held, mine, one=one),
                                  "nested": evaluate(base, ids, held, t, one=one)}), flush=True)
            t_all = choose(base, ids, rows, one, evaluate(base, ids, rows, mine, one=False))
            print(json.dumps({"mode": "one" if one else "split", "held_out": "in-sample choice on all rounds",
                              "chosen": asdict(t_all), "figures": evaluate(base, ids, rows, t_all, one=one),
                              "file": evaluate(base, ids, rows, mine, one=one)}), flush=True)


if __name__ == "__main__":
    main()

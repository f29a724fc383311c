"""Nested leave-one-round-out choice of the learned layers' capacity and of "other"'s weight (round 12).

Why: since round 9 the layers' settings (the fitted layer's ``min_stated`` and ``k``, the correction's
``l2`` and emergency weight, which rows are fitted) were chosen on all spent rounds at once, and
neither round 10's nor round 11's tuning generalized to its blind round. Here every setting's held-out
rows come from ``cv_posterior.held_out_rows`` (both layers fitted on the other rounds), and each
held-out round's setting is chosen on the **other** rounds' held-out rows only, with safety first
against the committed method on those rounds (no fewer emergencies caught, no more two-level
under-triage; ``--strict``: also no more one-level under-triage and no more non-emergencies raised), then
the most top-1 + top-3, then exact triage. The
chosen setting's figures on the held-out round are what is reported: the situation of the next blind
round, where the setting is chosen without it.

``--other``: a log-odds bias on "other" applied to the held-out (corrected) posterior and renormalised
(102 spent cases are outside the list and "other" leads none in sample), chosen the same way.
``--reliability``: the held-out calibration of the leader's probability (the reliability table).
``--spare-emergencies`` (round 14, with ``--other``): the emergencies keep their probability and "other"
takes its mass from the other listed conditions only, the form in which "other" leading could never
lower an emergency triage (docs/knowledge-changes-round14-r14refit.md).

    OMP_NUM_THREADS=1 PYTHONPATH=.:gen .venv/bin/python -m devtools.cv_capacity --settings base,ms4,ms6
    OMP_NUM_THREADS=1 PYTHONPATH=.:gen .venv/bin/python -m devtools.cv_capacity --report base,ms4,ms6 --other
    OMP_NUM_THREADS=1 PYTHONPATH=.:gen .venv/bin/python -m devtools.cv_capacity --cache /tmp/r14refit_cv \
        --report committed --other --spare-emergencies
"""

from __future__ import annotations

import argparse
import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from devtools.casefit import FitParams
from devtools.correction_fit import CorrectionParams
from devtools.cv_likelihoods import Evidence
from devtools.cv_posterior import Row, Thresholds, file_thresholds, held_out_rows_many
from devtools.triage_tally import Tally, thresholds_applied
from services.differential.ranking import compile_model, triage_for
from services.knowledge.loader import KnowledgeBase, load_knowledge_base
from tests.clinical.realcases import spent_cases

Setting = tuple[FitParams, CorrectionParams, Evidence]
ROUND11 = CorrectionParams(l2=0.01, emergency_weight=0.7, emergency_margin=0.15)  # the method before round 12

SETTINGS: dict[str, Setting] = {
    "base": (FitParams(), ROUND11, Evidence()),
    "ms4": (replace(FitParams(), min_stated=4), ROUND11, Evidence()),
    "ms6": (replace(FitParams(), min_stated=6), ROUND11, Evidence()),
    "ms8": (replace(FitParams(), min_stated=8), ROUND11, Evidence()),
    "k2": (replace(FitParams(), k_unlisted=2.0), ROUND11, Evidence()),
    "k8": (replace(FitParams(), k_unlisted=8.0), ROUND11, Evidence()),
    "noemerg": (replace(FitParams(), fit_emergency=False), ROUND11, Evidence()),
    "fitother": (replace(FitParams(), fit_other=True), ROUND11, Evidence()),
    "l2_007": (FitParams(), replace(ROUND11, l2=0.007), Evidence()),
    "l2_015": (FitParams(), replace(ROUND11, l2=0.015), Evidence()),
    "l2_005": (FitParams(), replace(ROUND11, l2=0.005), Evidence()),
    "l2_007_ew0": (FitParams(), replace(ROUND11, l2=0.007, emergency_weight=0.0), Evidence()),
    "l2_005_ew0": (FitParams(), replace(ROUND11, l2=0.005, emergency_weight=0.0), Evidence()),
    "ms4_l2_005": (replace(FitParams(), min_stated=4), replace(ROUND11, l2=0.005), Evidence()),
    "ms6_l2_005": (replace(FitParams(), min_stated=6), replace(ROUND11, l2=0.005), Evidence()),
    "l2_02": (FitParams(), replace(ROUND11, l2=0.02), Evidence()),
    "mimic09": (FitParams(), ROUND11, Evidence(other_mimic_share=0.9)),
    "mimic065": (FitParams(), ROUND11, Evidence(other_mimic_share=0.65)),
    "ew0": (FitParams(), replace(ROUND11, emergency_weight=0.0), Evidence()),
    "ew03": (FitParams(), replace(ROUND11, emergency_weight=0.3), Evidence()),
    "ew05": (FitParams(), replace(ROUND11, emergency_weight=0.5), Evidence()),
    "ew1": (FitParams(), replace(ROUND11, emergency_weight=1.0), Evidence()),
    "ew15": (FitParams(), replace(ROUND11, emergency_weight=1.5), Evidence()),
    # Round 14: the committed method (l2 0.005, emergency weight 0.7), the reference since round 12.
    "committed": (FitParams(), CorrectionParams(), Evidence()),
    "c_ew1": (FitParams(), replace(CorrectionParams(), emergency_weight=1.0), Evidence()),
    "c_ew15": (FitParams(), replace(CorrectionParams(), emergency_weight=1.5), Evidence()),
    # Round 18: the committed layer method with the correction's weight and l2 re-chosen over seventeen rounds.
    "c_ew0": (FitParams(), replace(CorrectionParams(), emergency_weight=0.0), Evidence()),
    "c_ew05": (FitParams(), replace(CorrectionParams(), emergency_weight=0.5), Evidence()),
    "c_ew09": (FitParams(), replace(CorrectionParams(), emergency_weight=0.9), Evidence()),
    "c_l2_01": (FitParams(), replace(CorrectionParams(), l2=0.01), Evidence()),
    "c_l2_0025": (FitParams(), replace(CorrectionParams(), l2=0.0025), Evidence()),
    "ms6_c": (replace(FitParams(), min_stated=6), CorrectionParams(), Evidence()),
    "ms4_c": (replace(FitParams(), min_stated=4), CorrectionParams(), Evidence()),
}
CACHE = Path("/tmp/r12learn_cv")  # ``--cache`` (round 14: a folder per set of spent rounds)
OTHER_BIASES = (-1.0, -0.5, 0.0, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 1.5)
Counts = dict[str, float]


def rows_of(name: str) -> list[Row]:
    """The setting's held-out rows over every spent round (cached: a setting takes minutes)."""
    path = CACHE / f"{name}.pkl"
    if not path.exists():
        compute([name])
    rows: list[Row] = pickle.loads(path.read_bytes())
    return rows


def compute(names: Sequence[str]) -> None:
    """Held-out rows of ``names``, which must share the fitted layer and evidence settings (only the
    correction's differ), so the layer and the out-of-fold offsets are fitted once per round."""
    fit, _, evidence = SETTINGS[names[0]]
    assert all(SETTINGS[n][0] == fit and SETTINGS[n][2] == evidence for n in names), names
    base = evidence.apply(load_knowledge_base(fitted=False, corrected=False))
    out = held_out_rows_many(base, spent_cases(), fit, [SETTINGS[n][1] for n in names])
    CACHE.mkdir(exist_ok=True)
    for n, rows in zip(names, out, strict=True):
        (CACHE / f"{n}.pkl").write_bytes(pickle.dumps(rows))


def with_other_bias(rows: Sequence[Row], other: int, bias: float,
                    spared: np.ndarray | None = None) -> list[Row]:
    """``rows`` with "other"'s corrected probability multiplied by e^bias and renormalised; with
    ``spared`` (a [C] mask, round 14: the emergencies) those conditions keep their probability and the
    mass "other" gains or loses comes from the rest only, so no emergency threshold is crossed downward."""
    if bias == 0.0:
        return list(rows)
    out = []
    for r in rows:
        p = r.probs.copy()
        if spared is None:
            p[other] *= np.exp(bias)
            out.append(replace(r, probs=p / p.sum()))
            continue
        free = ~spared
        free[other] = False
        pool = p[free].sum() + p[other]  # the mass shared by "other" and the non-spared conditions
        q_other = p[other] * np.exp(bias) / (p[other] * np.exp(bias) + p[free].sum()) * pool
        p[free] *= (pool - q_other) / max(p[free].sum(), 1e-300)
        p[other] = q_other
        out.append(replace(r, probs=p))
    return out


def counts(base: KnowledgeBase, ids: Sequence[str], rows: Sequence[Row], t: Thresholds) -> Counts:
    """Counts (not shares) of the figures, triage reading the corrected posterior (as shipped)."""
    tally = Tally(ids)
    with thresholds_applied(base, t.emergency, t.dont_miss, t.urgent, t.self_care) as model:
        for r in rows:
            shown = dict(zip(ids, r.probs.tolist(), strict=True))
            level = triage_for(model, shown, r.red_flags, r.poor_fit, present=r.present).level
            tally.add(r.case, r.probs, level, r.red_flags)
    other = ids.index("other")
    led_other = sum(int(np.argmax(r.probs) == other) for r in rows)
    other_right = sum(int(np.argmax(r.probs) == other and r.case.expected.condition == "other") for r in rows)
    return {"n": tally.n, "top1": tally.top1, "top3": tally.top3, "exact": tally.exact, "under": tally.under,
            "under2": tally.under2, "emerg": tally.emergencies, "caught": tally.caught, "others": tally.others,
            "raised": tally.raised, "brier": round(tally.brier, 3), "other_first": led_other,
            "other_first_right": other_right}


def safe_against(f: Counts, ref: Counts, strict: bool) -> bool:
    """Round 12's rule: no fewer emergencies caught, no more two-level under-triage; ``strict``: rounds
    8-10's, which also held one-level under-triage and the non-emergencies raised."""
    if f["caught"] < ref["caught"] or f["under2"] > ref["under2"]:
        return False
    return not strict or (f["under"] <= ref["under"] and f["raised"] <= ref["raised"])


def nested(candidates: Mapping[str, Callable[[int | None, bool], Counts]], reference: str,
           rounds: Sequence[int], strict: bool = False) -> list[dict[str, object]]:
    """Per held-out round: the candidate chosen on the other rounds (``fig(r, exclude=True)``) and its
    held-out figures beside the reference's. ``fig(r, False)``: round r only; ``fig(r, True)``: all but r."""
    out: list[dict[str, object]] = []
    for r in rounds:
        ref_rest = candidates[reference](r, True)
        best: tuple[tuple[float, ...], str] | None = None
        for name, fig in candidates.items():
            f = fig(r, True)
            if not safe_against(f, ref_rest, strict):
                continue
            key = (-(f["top1"] + f["top3"]), -f["exact"], f["raised"])
            if best is None or key < best[0]:
                best = (key, name)
        chosen = best[1] if best is not None else reference
        out.append({"held_out": r, "chosen": chosen, "reference": candidates[reference](r, False),
                    "nested": candidates[chosen](r, False)})
    return out


BINS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)


def reliability(ids: Sequence[str], rows: Sequence[Row], edges: Sequence[float] = BINS) -> list[dict[str, object]]:
    """Leader's probability binned: cases, mean stated probability, share right (held out)."""
    lead = np.array([float(r.probs.max()) for r in rows])
    right = np.array([ids[int(np.argmax(r.probs))] == r.case.expected.condition for r in rows])
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (lead >= lo) & (lead < hi)
        if m.any():
            out.append({"bin": f"{lo:.1f}-{min(hi, 1.0):.1f}", "cases": int(m.sum()),
                        "stated": round(float(lead[m].mean()), 3), "right": round(float(right[m].mean()), 3)})
    return out


def main(argv: list[str] | None = None) -> None:
    global CACHE  # noqa: PLW0603 - the scratch folder rows_of / compute read
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="", help="comma-separated settings whose held-out rows to compute")
    parser.add_argument("--report", default="", help="comma-separated settings to compare, nested (first: reference)")
    parser.add_argument("--other", action="store_true", help="the 'other' bias, nested, on the reference's rows")
    parser.add_argument("--reliability", action="store_true", help="the reference's reliability table")
    parser.add_argument("--strict", action="store_true", help="rounds 8-10's rule: raised and under-triage held too")
    parser.add_argument("--spare-emergencies", action="store_true",
                        help="with --other: emergencies keep their probability (the bias moves mass among the rest)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of the cached held-out rows (scratch)")
    args = parser.parse_args(argv)
    CACHE = args.cache
    todo = [n for n in filter(None, args.settings.split(",")) if not (CACHE / f"{n}.pkl").exists()]
    if todo:
        compute(todo)
        print(f"{todo}: rows cached", flush=True)
    if not args.report:
        return
    base = load_knowledge_base(fitted=False, corrected=False)
    ids = list(compile_model(base).condition_ids)
    t = file_thresholds(base)
    names = args.report.split(",")
    by_name = {n: rows_of(n) for n in names}
    rounds = sorted({x.case.corpus_round for x in by_name[names[0]]})
    memo: dict[tuple[str, int | None, bool], Counts] = {}

    def figure(name: str, rows: Sequence[Row]) -> Callable[[int | None, bool], Counts]:
        def fig(r: int | None, exclude: bool) -> Counts:
            key = (name, r, exclude)
            if key not in memo:
                sub = [x for x in rows
                       if r is None or (x.case.corpus_round != r if exclude else x.case.corpus_round == r)]
                memo[key] = counts(base, ids, sub, t)
            return memo[key]
        return fig

    if args.other:
        other = ids.index("other")
        spared = (np.array([base.conditions[c].emergency for c in ids], dtype=bool)
                  if args.spare_emergencies else None)
        cands = {f"bias{b:+.2f}": figure(f"bias{b:+.2f}", with_other_bias(by_name[names[0]], other, b, spared))
                 for b in OTHER_BIASES}
        reference = "bias+0.00"
    else:
        cands = {n: figure(n, by_name[n]) for n in names}
        reference = names[0]
    for name, fig in cands.items():
        print(json.dumps({"setting": name, "all": fig(None, False)}), flush=True)
    for line in nested(cands, reference, rounds, args.strict):
        print(json.dumps(line), flush=True)
    if args.reliability:
        print(json.dumps({"reliability": reliability(ids, by_name[names[0]])}), flush=True)


if __name__ == "__main__":
    main()

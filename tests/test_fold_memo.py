"""The held-out gates' shared fits (tests/fold_memo.py) return exactly what the plain functions
return, serve a repeat from the memo, and miss on any change of what the fit reads."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from devtools import casefit, correction_fit, cv_correction
from devtools.casefit import FitParams, intake_case
from devtools.correction_fit import CorrectionParams, fit_weights, out_of_fold_design
from services.knowledge.loader import load_knowledge_base
from tests.clinical import realcases
from tests.fold_memo import FoldMemo


def _few_cases() -> list[realcases.RealCase]:
    cases = realcases.spent_cases()
    return [c for r in (1, 2, 3) for c in [x for x in cases if x.corpus_round == r][:12]]


def _same(a: correction_fit.Design, b: correction_fit.Design) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("offset", "present", "absent", "truth"))


def test_the_memo_returns_the_plain_fits_and_misses_on_any_change() -> None:
    base = load_knowledge_base(fitted=False, corrected=False)
    cases = _few_cases()
    params = CorrectionParams(iterations=40)
    plain_design = out_of_fold_design(base, cases)
    plain_w = fit_weights(base, plain_design, params)
    memo = FoldMemo()
    # What the modules hold now (the plain functions, or the session's memo once a gate asked for it).
    before = correction_fit.out_of_fold_design, vars(cv_correction)["out_of_fold_design"]
    with memo.installed():
        assert vars(cv_correction)["out_of_fold_design"] is not before[1], "the importers are routed too"
        first = correction_fit.out_of_fold_design(base, cases)
        assert _same(first, plain_design) and (memo.hits, memo.misses) == (0, 1)
        # The same content again (a fresh load, ``fit`` spelled out): served, equal, and a copy.
        routed = vars(cv_correction)["out_of_fold_design"]
        again = routed(load_knowledge_base(fitted=False, corrected=False), list(cases), None, FitParams())
        assert _same(again, plain_design) and memo.hits == 1
        again.offset[:] = 0.0
        assert _same(correction_fit.out_of_fold_design(base, cases), plain_design), "a caller cannot edit the memo"
        hits = memo.hits
        # Any change of the knowledge base, the cases or the fit parameters is computed afresh.
        correction_fit.out_of_fold_design(replace(base, version="edited"), cases)
        correction_fit.out_of_fold_design(base, cases[:-1])
        correction_fit.out_of_fold_design(base, cases, None, replace(FitParams(), k_unlisted=8.0))
        assert memo.hits == hits and memo.misses == 4
        w = correction_fit.fit_weights(base, first, params)
        assert np.array_equal(w, plain_w)
        assert np.array_equal(correction_fit.fit_weights(base, first, params), plain_w) and memo.hits == hits + 1
        misses = memo.misses
        correction_fit.fit_weights(base, first, replace(params, l2=0.01))
        first.offset[0, 0] += 1.0
        correction_fit.fit_weights(base, first, params)
        assert memo.misses == misses + 2
    after = correction_fit.out_of_fold_design, vars(cv_correction)["out_of_fold_design"]
    assert after[0] is before[0] and after[1] is before[1], "restored on exit"


def test_the_intake_memo_is_per_knowledge_base_and_case() -> None:
    base = load_knowledge_base(fitted=False, corrected=False)
    case = _few_cases()[0]
    memo = FoldMemo()
    before = casefit.intake_case
    with memo.installed():
        first = casefit.intake_case(base, case)
        assert first == intake_case(base, case) and casefit.intake_case(base, case) is first
        other = replace(base, version="edited")
        assert casefit.intake_case(other, case) is not first, "another knowledge base object: its own intake"
        assert casefit.intake_case(base, case.model_copy()) is not first
    assert casefit.intake_case is before

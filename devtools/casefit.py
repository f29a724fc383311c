"""Empirical-Bayes likelihoods from the spent published cases (docs/ranking.md, section 8).

Why: most ``P(f | c)`` in ``likelihoods*.yaml`` are expert estimates, and a finding a table
does not list sits at its background rate. The published case reports the engine has been
tested on (every locked set whose one run is recorded, ``tests/clinical/realcases.py``) say
how often a condition's patients are *reported* with a finding present or absent. Each pair's
knowledge-base value is taken as a Beta prior worth ``k`` pseudo-cases and updated with those
counts; the posterior mean is the fitted value:

    p_fit = (k * p0 + n_present) / (k + n_present + w * n_absent)

``k`` is larger for a pair the tables list (a sourced or reasoned figure) than for one at the
background rate (no knowledge); ``w`` down-weights pertinent negatives, which writers state
selectively. ``fit_counts`` and ``fitted_value`` are shared by the generator
(``devtools/fit_likelihoods.py``) and the cross-validation (``devtools/cv_likelihoods.py``), so
the committed layer is exactly what the cross-validation measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from footcds.v1 import encounter_pb2

from services.cli.casefile import case_from_json
from services.differential.handlers import case_from_pb
from services.differential.model import compile_model
from services.knowledge.clinical import Case, State
from services.knowledge.fitted import posterior_mean, red_flag_ingredients
from services.knowledge.loader import KnowledgeBase
from tests.clinical.realcases import RealCase


@dataclass(frozen=True)
class FitParams:
    """What the cross-validation chooses (defaults: the values it chose; docs/ranking.md)."""

    fit_listed: bool = False  # whether pairs the tables list (sourced or reasoned) are updated
    k_listed: float = 160.0  # pseudo-cases behind a listed pair, when those are fitted
    k_unlisted: float = 4.0  # pseudo-cases behind a pair at the background (or derived) rate
    absent_weight: float = 0.5  # weight of a stated-absent finding
    fit_other: bool = False  # whether the catch-all "other" row is fitted
    fit_emergency: bool = True  # whether emergency conditions' rows are fitted
    min_stated: int = 5  # pairs stated fewer times keep the prior (3 to round 8, 4 in 9; docs/ranking.md s.8)
    # Red-flag guard: for a finding that is an ingredient of an emergency red-flag rule, the fit
    # never lowers an emergency condition's likelihood below its prior nor raises a non-emergency
    # condition's above it (case reports over-report striking findings; red flags are not traded).
    red_flag_guard: bool = True
    p_floor: float = 0.002
    p_ceiling: float = 0.98


@dataclass(frozen=True)
class PairCount:
    present: int
    absent: int


def intake_case(kb: KnowledgeBase, case: RealCase) -> Case:
    """The case as the intake closes it (implications, age stand-ins), as the engine sees it."""
    request: encounter_pb2.AssessRequest = case_from_json(case.case_json())
    return case_from_pb(kb, request.patient, list(request.evidence))


def fit_counts(
    kb: KnowledgeBase, cases: Iterable[RealCase]
) -> tuple[dict[str, int], dict[tuple[str, str], PairCount]]:
    """Per condition the number of cases; per (condition, finding) how often stated present / absent.

    Counted after the intake's implications (a stated foot drop is a stated weakness). Findings
    that stand in for the age are left out: the age mix of case reports is not a clinic's, and
    age reaches the ranking through the conditions' modifiers (priors stay epidemiological).
    """
    stand_ins = {f for f, finding in kb.findings.items() if finding.age_above is not None}
    n_cases: dict[str, int] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    for case in cases:
        cid = case.expected.condition
        n_cases[cid] = n_cases.get(cid, 0) + 1
        for fid, state in intake_case(kb, case).evidence.items():
            if fid in stand_ins or state is State.UNKNOWN:
                continue
            row = counts.setdefault((cid, fid), [0, 0])
            row[0 if state is State.PRESENT else 1] += 1
    return n_cases, {pair: PairCount(a, b) for pair, (a, b) in sorted(counts.items())}


def prior_table(kb: KnowledgeBase) -> np.ndarray:
    """The [C, F] P(f | c) the engine uses without the fitted layer (listed, derived or background)."""
    return compile_model(kb).p


def fitted_value(p0: float, count: PairCount, k: float, params: FitParams) -> float:
    """The Beta posterior mean, clipped to the layer's bounds (``fitted.posterior_mean``)."""
    return float(posterior_mean(p0, count.present, count.absent, k, params.absent_weight,
                                params.p_floor, params.p_ceiling))


def fitted_pairs(
    kb: KnowledgeBase,
    counts: dict[tuple[str, str], PairCount],
    params: FitParams,
    prior: np.ndarray | None = None,
) -> dict[tuple[str, str], tuple[float, float, bool]]:
    """(condition, finding) -> (prior p, fitted p, listed) for every pair the fit changes.

    A child of an implication is never fitted above its parent's final value (``P(child | c) <=
    P(parent | c)``), so parents are fitted first.
    """
    prior = prior_table(kb) if prior is None else prior
    c_index = {c: i for i, c in enumerate(kb.condition_ids)}
    f_index = {f: i for i, f in enumerate(kb.finding_ids)}
    parents: dict[str, list[str]] = {}
    if kb.evidence_model is not None:
        for imp in kb.evidence_model.implications:
            parents[imp.finding] = list(imp.implies)
    guarded = red_flag_ingredients(kb.red_flags) if params.red_flag_guard else frozenset()
    out: dict[tuple[str, str], tuple[float, float, bool]] = {}
    for (cid, fid), count in sorted(counts.items(), key=lambda kv: _depth(kv[0][1], parents)):
        condition = kb.conditions[cid]
        if (cid == "other" and not params.fit_other) or (condition.emergency and not params.fit_emergency):
            continue
        if count.present + count.absent < params.min_stated:
            continue
        listed = fid in kb.likelihoods.get(cid, {})
        if listed and not params.fit_listed:
            continue
        p0 = float(prior[c_index[cid], f_index[fid]])
        value = fitted_value(p0, count, params.k_listed if listed else params.k_unlisted, params)
        for parent in parents.get(fid, ()):
            parent_p = out.get((cid, parent), (0.0, float(prior[c_index[cid], f_index[parent]]), False))[1]
            value = min(value, parent_p)
        if fid in guarded:
            value = max(value, p0) if condition.emergency else min(value, p0)
        if round(value, 4) != round(p0, 4):
            out[(cid, fid)] = (p0, round(value, 4), listed)
    return out


def _depth(fid: str, parents: dict[str, list[str]]) -> int:
    """How many implication steps above ``fid`` (parents sort before their children)."""
    return 0 if fid not in parents else 1 + max(_depth(p, parents) for p in parents[fid])


def with_fit(kb: KnowledgeBase, pairs: dict[tuple[str, str], tuple[float, float, bool]]) -> KnowledgeBase:
    """The knowledge base with the fitted values in its likelihood table (as the loader applies them)."""
    from services.knowledge.loader import apply_fitted

    return apply_fitted(kb, {pair: value[1] for pair, value in pairs.items()})


def source_fold(case: RealCase, folds: int) -> int:
    """The case's fold: a hash of its source, so one case series never spans folds."""
    import hashlib

    return hashlib.sha256(case.source_key.encode()).digest()[1] % folds


def cases_by_fold(cases: Sequence[RealCase], folds: int) -> list[list[RealCase]]:
    out: list[list[RealCase]] = [[] for _ in range(folds)]
    for case in cases:
        out[source_fold(case, folds)].append(case)
    return out

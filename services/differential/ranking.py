"""Bayesian ranking of conditions from present/absent findings (the math: docs/ranking.md).

The knowledge base is compiled once into NumPy arrays (``RankingModel``); a case is then a
handful of vector operations, and a batch is two matrix products.  Conditions are treated as
mutually exclusive explanations of the presenting numbness and findings as conditionally
independent given the condition (naive Bayes); unknown findings are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from services.knowledge.clinical import (
    TRIAGE_ORDER,
    Case,
    CitationRef,
    Differential,
    Patient,
    RedFlagHit,
    ScoredCondition,
    State,
    Triage,
    Weight,
    more_urgent,
)
from services.knowledge.implications import ImplicationGraph, counted_findings, implication_graph
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.knowledge.red_flags import detect_red_flags

Array = npt.NDArray[np.float64]
SETTINGS = ("sports_medicine", "general_adult")
MAX_AGE = 130
EXPLAINED_PER_CONDITION = 6
DECISIVE_PER_CONDITION = 3


@dataclass(frozen=True)
class RankingModel:
    """The knowledge base as arrays: C conditions by F findings."""

    kb: KnowledgeBase
    condition_ids: tuple[str, ...]
    finding_ids: tuple[str, ...]
    finding_index: dict[str, int]
    p: Array  # [C, F] P(finding present | condition)
    # Log-likelihood ratios against the background model (every finding at its background
    # rate), transposed so a case sums rows.  A per-finding constant leaves the softmax
    # unchanged, and the same numbers measure how well a condition fits (``fit``).
    log_p_t: Array  # [F, C] log (p / background)
    log_q_t: Array  # [F, C] log ((1 - p) / (1 - background))
    log_prior: dict[str, Array]  # setting -> [C]
    log_age: Array  # [MAX_AGE + 1, C]
    log_sex: dict[str, Array]  # sex -> [C]
    llr_present: dict[str, Array]  # setting -> [C, F]
    llr_absent: dict[str, Array]  # setting -> [C, F]
    # Findings that stand in for the age (``Finding.age_above``): not counted when the age is
    # known, since the age modifiers count it (see ``counted_evidence``).
    age_stand_ins: frozenset[str] = frozenset()
    implications: ImplicationGraph | None = None
    # Correlation groups (``evidence_model.yaml``): finding indices per group.
    groups: tuple[tuple[int, ...], ...] = ()
    # Hallmarks: [F, C] indicator, count per condition, and the log discount applied when none
    # is present and one is unknown (0 for conditions without hallmarks).
    hallmark: Array | None = None
    hallmark_count: Array | None = None
    hallmark_log_discount: Array | None = None


def compile_model(kb: KnowledgeBase) -> RankingModel:
    conditions = kb.condition_ids
    findings = kb.finding_ids
    f_index = {f: i for i, f in enumerate(findings)}
    background = np.array([kb.findings[f].background for f in findings])
    p = np.tile(background, (len(conditions), 1))
    for ci, cid in enumerate(conditions):
        for fid, lik in kb.likelihoods.get(cid, {}).items():
            p[ci, f_index[fid]] = lik.p
    graph = implication_graph(kb)
    _derive_implied_likelihoods(kb, graph, p, f_index, background)
    groups, hallmark, log_discount = _evidence_arrays(kb, conditions, f_index)

    log_prior: dict[str, Array] = {}
    llr_present: dict[str, Array] = {}
    llr_absent: dict[str, Array] = {}
    for setting in SETTINGS:
        prior = np.array([getattr(kb.conditions[c].prevalence, setting) for c in conditions])
        prior = prior / prior.sum()
        log_prior[setting] = np.log(prior)
        # P(f | not c): the prior-weighted mixture of every other condition.
        total = prior @ p
        rest = (total[None, :] - prior[:, None] * p) / (1.0 - prior[:, None])
        rest = np.clip(rest, 1e-6, 1 - 1e-6)
        llr_present[setting] = np.log(p / rest)
        llr_absent[setting] = np.log((1 - p) / (1 - rest))

    log_age = np.zeros((MAX_AGE + 1, len(conditions)))
    for ci, cid in enumerate(conditions):
        for mod in kb.conditions[cid].age_modifiers:
            log_age[mod.min_age : mod.max_age + 1, ci] += np.log(mod.factor)
    log_sex = {
        sex: np.log(
            np.array([kb.conditions[c].sex_modifiers.get(sex, 1.0) for c in conditions])
        )
        for sex in ("female", "male")
    }
    return RankingModel(
        kb=kb,
        condition_ids=conditions,
        finding_ids=findings,
        finding_index=f_index,
        p=p,
        log_p_t=np.ascontiguousarray((np.log(p) - np.log(background)[None, :]).T),
        log_q_t=np.ascontiguousarray((np.log1p(-p) - np.log1p(-background)[None, :]).T),
        log_prior=log_prior,
        log_age=log_age,
        log_sex=log_sex,
        llr_present=llr_present,
        llr_absent=llr_absent,
        age_stand_ins=frozenset(f for f in findings if kb.findings[f].age_above is not None),
        implications=graph,
        groups=groups,
        hallmark=hallmark,
        hallmark_count=hallmark.sum(axis=0),
        hallmark_log_discount=log_discount,
    )


def _derive_implied_likelihoods(
    kb: KnowledgeBase, graph: ImplicationGraph, p: Array, f_index: dict[str, int], background: Array
) -> None:
    """P(child | c) for a pair the data does not list, from its parents (docs/ranking.md).

    An unlisted child takes ``P(parent | c) * background(child) / background(parent)``: the
    condition changes how often the parent is seen, and the child is the same share of the
    parent as in the background.  Several parents: the smallest.  A listed pair is kept.
    """
    direct = {i.finding: i.implies for i in kb.evidence_model.implications} if kb.evidence_model else {}
    for ci, cid in enumerate(kb.condition_ids):
        listed = kb.likelihoods.get(cid, {})
        for child in graph.order:
            if child in listed:
                continue
            fc = f_index[child]
            p[ci, fc] = min(
                p[ci, f_index[par]] * background[fc] / background[f_index[par]] for par in direct[child]
            )


def _evidence_arrays(
    kb: KnowledgeBase, conditions: tuple[str, ...], f_index: dict[str, int]
) -> tuple[tuple[tuple[int, ...], ...], Array, Array]:
    """Correlation groups as finding indices; the [F, C] hallmark indicator; per condition the
    log discount ``log(1 - reporting * coverage)`` (0 without hallmarks)."""
    model = kb.evidence_model
    hallmark = np.zeros((len(f_index), len(conditions)))
    log_discount = np.zeros(len(conditions))
    groups: tuple[tuple[int, ...], ...] = ()
    if model is not None:
        groups = tuple(tuple(f_index[f] for f in g.findings) for g in model.correlation_groups)
        c_index = {c: i for i, c in enumerate(conditions)}
        for mark in model.hallmarks:
            ci = c_index[mark.condition]
            for fid in mark.findings:
                hallmark[f_index[fid], ci] = 1.0
            log_discount[ci] = np.log1p(-model.fit.hallmark_reporting * mark.coverage)
    return groups, hallmark, log_discount


@cache
def default_model() -> RankingModel:
    return compile_model(knowledge_base())


def _log_base(model: RankingModel, patient: Patient) -> Array:
    base = model.log_prior[patient.setting]
    if patient.age is not None:
        base = base + model.log_age[min(max(patient.age, 0), MAX_AGE)]
    if patient.sex in model.log_sex:
        base = base + model.log_sex[patient.sex]
    return base


def _softmax(log_scores: Array) -> Array:
    shifted = np.exp(log_scores - log_scores.max(axis=-1, keepdims=True))
    out: Array = shifted / shifted.sum(axis=-1, keepdims=True)
    return out


def counted_evidence(model: RankingModel, case: Case) -> Mapping[str, State]:
    """The evidence the ranking counts (known findings only).

    Each implication chain counts once (``counted_findings``).  Age enters once: through
    the conditions' age modifiers when the age is known, and through its stand-in finding
    ("age over 50") only when it is not, so a known age and the stand-in are never counted
    twice (docs/ranking.md).
    """
    evidence = case.evidence
    if case.patient.age is not None and any(f in evidence for f in model.age_stand_ins):
        evidence = {f: s for f, s in evidence.items() if f not in model.age_stand_ins}
    if model.implications is None:
        return evidence
    return counted_findings(model.implications, evidence)


def _indices(model: RankingModel, evidence: Mapping[str, State]) -> tuple[list[int], list[int]]:
    present: list[int] = []
    absent: list[int] = []
    index = model.finding_index
    for fid, state in evidence.items():
        if state is State.PRESENT:
            present.append(index[fid])
        elif state is State.ABSENT:
            absent.append(index[fid])
    return present, absent


def posterior(case: Case, model: RankingModel | None = None) -> Array:
    """Posterior probabilities over ``model.condition_ids`` (sums to 1).

    The same terms as ``posterior_batch`` for one case, as row sums (no [N, F] matrices);
    ``tests/test_ranking.py`` checks they agree.
    """
    model = model or default_model()
    log_lr, hallmark = case_terms(model, case)
    return _softmax(_log_base(model, case.patient) + log_lr + hallmark)


def case_terms(model: RankingModel, case: Case) -> tuple[Array, Array]:
    """One case's evidence log-likelihood ratio vs background [C] (``evidence_log_lr``) and its
    hallmark discount [C] (``hallmark_log_factor``)."""
    present, absent = _indices(model, counted_evidence(model, case))
    c = len(model.condition_ids)
    log_lr: Array = np.zeros(c)
    if present:
        log_lr = log_lr + model.log_p_t[present].sum(axis=0)
        chosen = set(present)
        for group in model.groups:
            members = [f for f in group if f in chosen]
            if len(members) >= 2:
                rows = model.log_p_t[members]
                log_lr = log_lr + rows.max(axis=0) - rows.sum(axis=0)
    if absent:
        log_lr = log_lr + model.log_q_t[absent].sum(axis=0)
    hallmark: Array = np.zeros(c)
    if model.hallmark is not None and model.hallmark_count is not None and model.hallmark_log_discount is not None:
        known_present, known_absent = _indices(model, case.evidence)
        hits = model.hallmark[known_present].sum(axis=0)
        ruled_out = model.hallmark[known_absent].sum(axis=0)
        applies = (model.hallmark_count > 0) & (hits == 0) & (ruled_out < model.hallmark_count)
        hallmark = applies * model.hallmark_log_discount
    return log_lr, hallmark


def posterior_batch(cases: Sequence[Case], model: RankingModel | None = None) -> Array:
    """Posteriors for many cases at once: [N, C]; a few matrix products.

    One Python pass collects indices and the rows of the prior, age and sex tables; NumPy
    then gathers and scatters in one go (per-row NumPy calls cost 2.6x more at 10k cases,
    see docs/performance.md).  ``posterior`` is this with one case.
    """
    model = model or default_model()
    base, counted, full = case_arrays(cases, model)
    return _softmax(base + evidence_log_lr(model, *counted) + hallmark_log_factor(model, *full))


def case_arrays(
    cases: Sequence[Case], model: RankingModel
) -> tuple[Array, tuple[Array, Array], tuple[Array, Array]]:
    """Per case: the log prior (setting, age, sex) [N, C]; the present / absent indicators of
    the counted findings [N, F] each; and of every known finding (hallmarks read those)."""
    n, f, c = len(cases), len(model.finding_ids), len(model.condition_ids)
    index = model.finding_index
    setting_row = {s: i for i, s in enumerate(model.log_prior)}
    sex_row = {s: i for i, s in enumerate(model.log_sex)}
    no_age, no_sex = MAX_AGE + 1, len(sex_row)  # the all-zero rows appended below
    rows: list[int] = []  # per case: its setting, age and sex table rows
    cells: tuple[list[int], list[int], list[int], list[int], list[int], list[int], list[int], list[int]] = (
        [], [], [], [], [], [], [], []
    )
    p_rows, p_cols, a_rows, a_cols, kp_rows, kp_cols, ka_rows, ka_cols = cells
    for row, case in enumerate(cases):
        patient = case.patient
        age = patient.age
        rows.append(setting_row[patient.setting])
        rows.append(no_age if age is None else min(max(age, 0), MAX_AGE))
        rows.append(no_sex if patient.sex is None else sex_row.get(patient.sex, no_sex))
        for fid, state in counted_evidence(model, case).items():
            if state is State.PRESENT:
                p_rows.append(row)
                p_cols.append(index[fid])
            elif state is State.ABSENT:
                a_rows.append(row)
                a_cols.append(index[fid])
        for fid, state in case.evidence.items():
            if state is State.PRESENT:
                kp_rows.append(row)
                kp_cols.append(index[fid])
            elif state is State.ABSENT:
                ka_rows.append(row)
                ka_cols.append(index[fid])
    table = np.array(rows, dtype=np.intp).reshape(n, 3)
    zero = np.zeros((1, c))
    base = (
        np.stack(list(model.log_prior.values()))[table[:, 0]]
        + np.vstack([model.log_age, zero])[table[:, 1]]
        + np.vstack([*model.log_sex.values(), zero])[table[:, 2]]
    )
    mats = [np.zeros((n, f)) for _ in range(4)]
    pairs = ((p_rows, p_cols), (a_rows, a_cols), (kp_rows, kp_cols), (ka_rows, ka_cols))
    for mat, (r, col) in zip(mats, pairs, strict=True):
        mat[r, col] = 1.0
    return base, (mats[0], mats[1]), (mats[2], mats[3])


def evidence_log_lr(model: RankingModel, present: Array, absent: Array) -> Array:
    """[N, C] log-likelihood ratio of each case's counted findings, condition vs background.

    Findings of a correlation group that are present together count once per condition: the
    strongest of them (max instead of sum; docs/ranking.md).
    """
    out: Array = present @ model.log_p_t + absent @ model.log_q_t
    for group in model.groups:
        cols = list(group)
        mask = present[:, cols] > 0
        rows = np.flatnonzero(mask.sum(axis=1) >= 2)
        if rows.size == 0:
            continue
        lr = model.log_p_t[cols]  # [g, C]
        chosen = np.where(mask[rows][:, :, None], lr[None, :, :], -np.inf)
        out[rows] += chosen.max(axis=1) - (mask[rows][:, :, None] * lr[None, :, :]).sum(axis=1)
    return out


def hallmark_log_factor(model: RankingModel, present: Array, absent: Array) -> Array:
    """[N, C] log discount for conditions none of whose hallmarks is present and one unknown."""
    if model.hallmark is None or model.hallmark_count is None or model.hallmark_log_discount is None:
        return np.zeros((present.shape[0], len(model.condition_ids)))
    hits = present @ model.hallmark
    ruled_out = absent @ model.hallmark
    applies = (model.hallmark_count > 0) & (hits == 0) & (ruled_out < model.hallmark_count)
    out: Array = applies * model.hallmark_log_discount
    return out


# --- from probabilities to an explained, triaged differential ---------------------------


def _citations(kb: KnowledgeBase, keys: Sequence[str]) -> tuple[CitationRef, ...]:
    return tuple(CitationRef(k, kb.sources[k].title) for k in keys)


def _weights(
    model: RankingModel, ci: int, case: Case, setting: str
) -> tuple[tuple[Weight, ...], tuple[Weight, ...]]:
    """One condition's evidence for and against, computed plainly (``_explanations`` is the
    vectorized path; ``tests/test_fast_paths.py`` checks they agree)."""
    kb = model.kb
    weights: list[Weight] = []
    for fid, state in counted_evidence(model, case).items():
        if state is State.UNKNOWN:
            continue
        fi = model.finding_index[fid]
        table = model.llr_present if state is State.PRESENT else model.llr_absent
        llr = float(table[setting][ci, fi])
        if abs(llr) >= 0.05:
            weights.append(Weight(fid, kb.findings[fid].label, state, round(llr, 3)))
    supporting = sorted((w for w in weights if w.llr > 0), key=lambda w: -w.llr)
    against = sorted((w for w in weights if w.llr < 0), key=lambda w: w.llr)
    return tuple(supporting[:EXPLAINED_PER_CONDITION]), tuple(against[:EXPLAINED_PER_CONDITION])


def _decisive(model: RankingModel, ci: int, case: Case, setting: str) -> tuple[str, ...]:
    """Unknown findings whose presence or absence would move this condition most."""
    swing = np.abs(model.llr_present[setting][ci]) + np.abs(model.llr_absent[setting][ci])
    known = [model.finding_index[f] for f, s in case.evidence.items() if s is not State.UNKNOWN]
    if case.patient.age is not None:  # a known age answers its stand-in finding
        known += [model.finding_index[f] for f in model.age_stand_ins]
    swing = swing.copy()
    swing[known] = -1.0
    top = np.argsort(-swing)[:DECISIVE_PER_CONDITION]
    return tuple(model.finding_ids[i] for i in top if swing[i] > 0)


Explanation = tuple[tuple[Weight, ...], tuple[Weight, ...], tuple[str, ...]]


@dataclass(frozen=True)
class ExplainTables:
    """What explaining a condition reads, compiled once per model.

    Columns ``[0, F)`` are a finding present, ``[F, 2F)`` absent.  ``rounded`` holds
    ``round(llr, 3)`` (Python's rounding, computed once per cell, so the weights are the
    same floats ``_weights`` makes); ``shown`` marks ``|llr| >= 0.05``.
    """

    rounded: dict[str, Array]  # setting -> [C, 2F]
    shown: dict[str, npt.NDArray[np.bool_]]  # setting -> [C, 2F]
    swing: dict[str, Array]  # setting -> [C, F]: |llr present| + |llr absent|
    labels: tuple[str, ...]  # per finding
    stand_in_columns: tuple[int, ...]
    # Per condition: the fields of ``ScoredCondition`` that depend only on the condition.
    statics: tuple[tuple[str, str, tuple[str, ...], str | None, bool, bool, str], ...]
    citations: tuple[tuple[CitationRef, ...], ...]


_EXPLAIN: dict[int, tuple[RankingModel, ExplainTables]] = {}


def explain_tables(model: RankingModel) -> ExplainTables:
    """The model's ``ExplainTables`` (kept with the model, which pins its id)."""
    held = _EXPLAIN.get(id(model))
    if held is not None and held[0] is model:
        return held[1]
    kb = model.kb
    rounded: dict[str, Array] = {}
    shown: dict[str, npt.NDArray[np.bool_]] = {}
    swing: dict[str, Array] = {}
    for setting in model.llr_present:
        both = np.hstack([model.llr_present[setting], model.llr_absent[setting]])
        rounded[setting] = np.array([[round(x, 3) for x in row] for row in both.tolist()])
        shown[setting] = np.abs(both) >= 0.05
        swing[setting] = np.abs(model.llr_present[setting]) + np.abs(model.llr_absent[setting])
    conditions = [kb.conditions[c] for c in model.condition_ids]
    tables = ExplainTables(
        rounded=rounded,
        shown=shown,
        swing=swing,
        labels=tuple(kb.findings[f].label for f in model.finding_ids),
        stand_in_columns=tuple(model.finding_index[f] for f in model.age_stand_ins),
        statics=tuple(
            (c.id, c.label, tuple(c.icd10cm), c.snomed, c.emergency, c.dont_miss, c.specialist)
            for c in conditions
        ),
        citations=tuple(_citations(kb, c.citations) for c in conditions),
    )
    if len(_EXPLAIN) < 64:  # bounded: one model in practice
        _EXPLAIN[id(model)] = (model, tables)
    return tables


def _explanations(
    model: RankingModel, tables: ExplainTables, case: Case, setting: str, explained: list[int]
) -> list[Explanation]:
    """``_weights`` and ``_decisive`` for several conditions at once, with the same result.

    Stable sorts over the evidence in its dict order keep ``sorted``'s ties; the decisive
    findings use the same (default) ``argsort`` on the same rows.
    """
    f = len(model.finding_ids)
    index = model.finding_index
    fids: list[str] = []
    states: list[State] = []
    columns: list[int] = []
    for fid, state in counted_evidence(model, case).items():
        if state is State.PRESENT:
            columns.append(index[fid])
        elif state is State.ABSENT:
            columns.append(index[fid] + f)
        else:
            continue
        fids.append(fid)
        states.append(state)
    labels = tables.labels
    rows = np.array(explained, dtype=np.intp)[:, None]
    cols = np.array(columns, dtype=np.intp)
    rounded = tables.rounded[setting][rows, cols]
    shown = tables.shown[setting][rows, cols]
    support_key = np.where(shown & (rounded > 0), -rounded, np.inf)
    against_key = np.where(shown & (rounded < 0), rounded, np.inf)
    n = EXPLAINED_PER_CONDITION
    support_top = np.argsort(support_key, axis=1, kind="stable")[:, :n].tolist()
    against_top = np.argsort(against_key, axis=1, kind="stable")[:, :n].tolist()
    support_n = np.minimum(np.isfinite(support_key).sum(axis=1), n).tolist()
    against_n = np.minimum(np.isfinite(against_key).sum(axis=1), n).tolist()
    values = rounded.tolist()

    known = [index[fid] for fid, s in case.evidence.items() if s is not State.UNKNOWN]
    if case.patient.age is not None:  # a known age answers its stand-in finding
        known += tables.stand_in_columns
    swing = tables.swing[setting][rows[:, 0]]
    swing[:, known] = -1.0
    top = np.argsort(-swing, axis=1)[:, :DECISIVE_PER_CONDITION]
    top_ids = top.tolist()
    top_positive = (np.take_along_axis(swing, top, axis=1) > 0).tolist()
    finding_ids = model.finding_ids

    out: list[Explanation] = []
    for k in range(len(explained)):
        row = values[k]
        out.append(
            (
                tuple(
                    Weight(fids[j], labels[columns[j] % f], states[j], row[j])
                    for j in support_top[k][: support_n[k]]
                ),
                tuple(
                    Weight(fids[j], labels[columns[j] % f], states[j], row[j])
                    for j in against_top[k][: against_n[k]]
                ),
                tuple(
                    finding_ids[i]
                    for i, positive in zip(top_ids[k], top_positive[k], strict=True)
                    if positive
                ),
            )
        )
    return out


def triage_for(
    model: RankingModel,
    probs: dict[str, float],
    red_flags: Sequence[RedFlagHit],
    poor_fit: bool = False,
) -> Triage:
    """Red-flag rules first, then probability thresholds, then the leader's usual level; a
    poor fit (``fit.py``) adds what to do next and is never left at self-care."""
    kb = model.kb
    policy = kb.triage_policy
    leader = max(probs, key=probs.__getitem__)
    level: str = kb.conditions[leader].default_triage
    reasons = [
        f"Most likely: {kb.conditions[leader].label} ({probs[leader]:.0%}), usually "
        f"{kb.triage_levels[kb.conditions[leader].default_triage].label.lower()}."
    ]
    for cid, prob in sorted(probs.items(), key=lambda kv: -kv[1]):
        condition = kb.conditions[cid]
        if condition.emergency and prob >= policy.emergency_condition_threshold:
            level = more_urgent(level, "emergency")
            reasons.insert(0, f"{condition.label} is possible ({prob:.0%}): an emergency.")
        elif condition.emergency and prob >= policy.dont_miss_threshold:
            level = more_urgent(level, "urgent")
            reasons.append(f"{condition.label} cannot be excluded ({prob:.1%}); see soon.")
        elif condition.default_triage in ("emergency", "urgent") and (
            prob >= policy.urgent_condition_threshold
        ):
            level = more_urgent(level, "urgent")
            reasons.append(f"{condition.label} ({prob:.0%}) needs a clinician within 48 hours.")
    if poor_fit and kb.evidence_model is not None:
        level = more_urgent(level, "routine")
        reasons.append(kb.evidence_model.fit.advice)
    for flag in reversed(red_flags):
        level = more_urgent(level, flag.level)
        reasons.insert(0, f"Red flag: {flag.description}")
    return Triage(
        level=level,
        reasons=tuple(reasons),
        red_flags=tuple(red_flags),
        advice=kb.triage_levels[level].advice,
    )


def differential_from_probabilities(
    case: Case,
    probs: Array,
    model: RankingModel | None = None,
    *,
    explain: bool = True,
    log_lr: Array | None = None,
) -> Differential:
    """Turn a probability vector into the ranked, explained, triaged differential.

    ``log_lr`` is the case's evidence log-likelihood ratio (``case_terms``) when the caller
    has it already; the fit is computed from it.
    """
    model = model or default_model()
    kb = model.kb
    policy = kb.triage_policy
    setting = case.patient.setting
    tables = explain_tables(model)
    red_flags = detect_red_flags(kb, case.present())
    flagged = {cid for flag in red_flags for cid in flag.suspect}
    order: list[int] = np.argsort(-probs, kind="stable").tolist()
    values: list[float] = [float(p) for p in probs.tolist()]
    floor = policy.unlikely_floor
    statics = tables.statics
    explained = (
        [ci for ci in order if not values[ci] < floor or statics[ci][0] in flagged]
        if explain
        else []
    )
    explanations = (
        dict(zip(explained, _explanations(model, tables, case, setting, explained), strict=True))
        if explained
        else {}
    )
    scored: list[ScoredCondition] = []
    for ci in order:
        cid, label, icd10cm, snomed, emergency, dont_miss_mark, specialist = statics[ci]
        prob = values[ci]
        explanation = explanations.get(ci)
        supporting, against, decisive = explanation if explanation is not None else ((), (), ())
        scored.append(
            ScoredCondition(
                condition_id=cid,
                label=label,
                probability=prob,
                icd10cm=icd10cm,
                snomed=snomed,
                emergency=emergency,
                dont_miss=dont_miss_mark,
                evidence_for=supporting,
                evidence_against=against,
                decisive_findings=decisive,
                unlikely=prob < floor,
                specialist=specialist,
                citations=tables.citations[ci] if explanation is not None else (),
            )
        )
    dont_miss = tuple(
        s
        for s in scored
        if ((s.emergency or s.dont_miss) and s.probability >= policy.dont_miss_threshold)
        or s.condition_id in flagged
    )
    probs_by_id = {s.condition_id: s.probability for s in scored}
    return Differential(
        conditions=tuple(scored),
        dont_miss=dont_miss,
        triage=triage_for(model, probs_by_id, red_flags, _poor_fit(model, case, probs, log_lr)),
    )


def _poor_fit(model: RankingModel, case: Case, probs: Array, log_lr: Array | None) -> bool:
    from services.differential.fit import assess_fit  # fit reads this module's arrays

    return assess_fit(model, case, probs, log_lr).poor


def rank(case: Case, model: RankingModel | None = None, *, explain: bool = True) -> Differential:
    """The ranked, explained, triaged differential for one case."""
    model = model or default_model()
    log_lr, hallmark = case_terms(model, case)
    probs = _softmax(_log_base(model, case.patient) + log_lr + hallmark)
    return differential_from_probabilities(case, probs, model, explain=explain, log_lr=log_lr)


def rank_batch(
    cases: Sequence[Case], model: RankingModel | None = None, *, explain: bool = False
) -> list[Differential]:
    """Differentials for many cases; probabilities vectorized, explanations optional."""
    model = model or default_model()
    base, counted, full = case_arrays(cases, model)
    log_lr = evidence_log_lr(model, *counted)
    probs = _softmax(base + log_lr + hallmark_log_factor(model, *full))
    return [
        differential_from_probabilities(case, row, model, explain=explain, log_lr=lr)
        for case, row, lr in zip(cases, probs, log_lr, strict=True)
    ]


__all__ = [
    "TRIAGE_ORDER",
    "RankingModel",
    "compile_model",
    "counted_evidence",
    "default_model",
    "differential_from_probabilities",
    "explain_tables",
    "posterior",
    "posterior_batch",
    "case_arrays",
    "case_terms",
    "evidence_log_lr",
    "hallmark_log_factor",
    "rank",
    "rank_batch",
    "triage_for",
]

"""The knowledge base compiled into NumPy arrays for ranking (the math: docs/ranking.md).

Why its own module: compiling the model (likelihoods, implied likelihoods, correlated groups,
hallmarks) is done once per knowledge-base version, while ``ranking`` and ``explain`` use the
arrays per case; keeping them apart keeps each module readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from services.knowledge.clinical import (
    Case,
    Patient,
    State,
)
from services.knowledge.implications import ImplicationGraph, counted_findings, implication_graph
from services.knowledge.loader import KnowledgeBase, knowledge_base
from services.knowledge.models import Setting
from services.knowledge.priors import age_factors, prevalence, sex_factor

Array = npt.NDArray[np.float64]

SETTINGS: tuple[Setting, ...] = ("sports_medicine", "general_adult")
MAX_AGE = 130
# Every table value a case sums over its findings (the likelihood log-ratios and the ranking
# correction's weights) is rounded at load to a multiple of 2**-SUM_GRID_BITS (``sum_grid``), so
# that any sum of them is exact in float64 and no order of the additions can change a bit.
SUM_GRID_BITS = 32
# A column whose |values| add up to at most this keeps every partial sum an integer multiple of
# 2**-SUM_GRID_BITS below 2**53 of them: exactly representable, so every addition is exact.
SUM_BOUND = 2.0 ** (53 - SUM_GRID_BITS)
OTHER = "other"  # the vocabulary's catch-all
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
    # "Other" as a leak (``fit.other_mimic_share``): its index and the share scored as a mimic.
    other_index: int = -1
    other_mimic: float = 0.0
    # [2F, W]: what a case sums, on the sum grid - rows [0, F) a counted present finding's
    # (``log_p_t``, then the ranking correction's present weights), rows [F, 2F) an absent one's
    # (``log_q_t``, then the correction's absent weights); W = C, or 2C with the case-fitted
    # ranking correction (``ranking_correction.yaml``, docs/ranking.md section 9: [F, C]
    # log-score weights added after the softmax's inputs are formed).  Every sum of its rows is
    # exact (``sum_grid``), so a batch forms them as one BLAS product of any shape and a case
    # alone as a NumPy sum, and both give the same bits.
    summands: Array | None = None

    @property
    def has_correction(self) -> bool:
        """Whether the ranking correction's columns follow the tables' in ``summands``."""
        return self.summands is not None and self.summands.shape[1] > len(self.condition_ids)


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
        prior = np.array([prevalence(kb.conditions[c], setting) for c in conditions])
        prior = prior / prior.sum()
        log_prior[setting] = np.log(prior)
        # P(f | not c): the prior-weighted mixture of every other condition.
        total = prior @ p
        rest = (total[None, :] - prior[:, None] * p) / (1.0 - prior[:, None])
        rest = np.clip(rest, 1e-6, 1 - 1e-6)
        llr_present[setting] = np.log(p / rest)
        llr_absent[setting] = np.log((1 - p) / (1 - rest))

    # The prior's factors (``knowledge.priors``, shared with the roster generator) as logs.
    log_age = np.zeros((MAX_AGE + 1, len(conditions)))
    for ci, cid in enumerate(conditions):
        for age in range(MAX_AGE + 1):
            for factor in age_factors(kb.conditions[cid], age):
                log_age[age, ci] += np.log(factor)
    log_sex = {
        sex: np.log(np.array([sex_factor(kb.conditions[c], sex) for c in conditions]))
        for sex in ("female", "male")
    }
    summed = _summands(
        conditions,
        (np.log(p) - np.log(background)[None, :]).T,
        (np.log1p(-p) - np.log1p(-background)[None, :]).T,
        _correction_arrays(kb, f_index),
    )
    return RankingModel(
        kb=kb,
        condition_ids=conditions,
        finding_ids=findings,
        finding_index=f_index,
        p=p,
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
        other_index=conditions.index(OTHER) if OTHER in conditions else -1,
        other_mimic=kb.evidence_model.fit.other_mimic_share if kb.evidence_model is not None else 0.0,
        **summed,
    )


def _summands(
    conditions: tuple[str, ...], log_p_t: Array, log_q_t: Array, correction: dict[str, Array]
) -> dict[str, Array]:
    """The tables a case sums, on the sum grid: ``summands`` (the log-ratios and the correction's
    weights, when there is one, in one [2F, W] table) and its ``log_p_t`` and ``log_q_t``."""
    present = [log_p_t]
    absent = [log_q_t]
    names = [f"log-likelihood ratios of {c}" for c in conditions]
    if correction:
        present.append(correction["correction_present_t"])
        absent.append(correction["correction_absent_t"])
        names += [f"ranking correction of {c}" for c in conditions]
    table = sum_grid(np.vstack([np.hstack(present), np.hstack(absent)]), names)
    f, c = log_p_t.shape
    return {
        "summands": table,
        "log_p_t": np.ascontiguousarray(table[:f, :c]),
        "log_q_t": np.ascontiguousarray(table[f:, :c]),
    }


def sum_grid(table: Array, columns: Sequence[str]) -> Array:
    """``table`` rounded to the nearest multiple of 2**-SUM_GRID_BITS (at most 1.2e-10 away);
    refused (ValueError naming the column) if a value is not finite or a column's |values|
    add up to more than ``SUM_BOUND``.

    Why: a batch of cases sums table rows as BLAS products, whose order of additions follows
    the product's shape (the kernel, the blocking, the threads, the CPU), and a case alone sums
    them with NumPy; in floating point another order is another result in the last bits, so an
    athlete's probabilities depended on the athletes screened beside it (docs/performance.md,
    sixth pass).  On the grid, with the bound, every partial sum of 0/1-selected rows is an
    integer multiple of 2**-SUM_GRID_BITS below 2**53 of them, which float64 holds exactly:
    every addition is exact, so every order, kernel and machine gives the same bits.  Valid
    knowledge files are far inside the bound (a log-ratio of probabilities in (0, 1) is at most
    ~745 in size, a correction weight 3; 2F rows: ~2e5 < 2e6).
    """
    bad = ~np.isfinite(table)
    if bad.any():
        raise ValueError(f"{columns[int(np.argwhere(bad)[0][1])]}: a value is not finite")
    on_grid: Array = np.ldexp(np.rint(np.ldexp(table, SUM_GRID_BITS)), -SUM_GRID_BITS)
    size = np.abs(on_grid).sum(axis=0)
    worst = int(np.argmax(size)) if size.size else 0
    if size.size and size[worst] > SUM_BOUND:
        raise ValueError(
            f"{columns[worst]}: its values' sizes add up to {size[worst]:.6g} > {SUM_BOUND:g}, so sums "
            f"on the 2**-{SUM_GRID_BITS} grid would not be exact in float64"
        )
    return on_grid


def _correction_arrays(kb: KnowledgeBase, f_index: dict[str, int]) -> dict[str, Array]:
    """The correction layer's weights as [F, C] arrays (absent when the knowledge base has none)."""
    if kb.correction is None:
        return {}
    present = np.zeros((len(f_index), len(kb.condition_ids)))
    absent = np.zeros_like(present)
    for ci, cid in enumerate(kb.condition_ids):
        weights = kb.correction.weights.get(cid)
        if weights is None:
            continue
        for fid, w in weights.present.items():
            present[f_index[fid], ci] = w
        for fid, w in weights.absent.items():
            absent[f_index[fid], ci] = w
    return {"correction_present_t": present, "correction_absent_t": absent}


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


def with_other_mimic(
    model: RankingModel,
    base: Array,
    log_scores: Array,
    listed_base_lse: Array | None = None,
    *,
    overwrite: bool = False,
) -> Array:
    """Log scores [.., C] with "other" scored as a leak (docs/ranking.md, section 7).

    A cause outside the list usually presents like a listed one (a mimic), so with share
    ``m = other_mimic`` its likelihood is the prior-weighted mean of the listed conditions'
    likelihoods, and with ``1 - m`` the background model's:

        score(other) = base(other) + log((1 - m) exp(lr(other)) + m sum_c pi_c exp(lr(c)))

    with ``pi_c`` the listed conditions' priors (``base``: setting, age, sex) renormalized
    and ``lr`` each condition's evidence and hallmark terms.  Without it "other" (every
    finding at its background rate) vanished whenever a listed condition fitted at all,
    although mimics present exactly that way.

    ``listed_base_lse``: ``listed_base_lse(model, base)`` computed beforehand (a batch has few
    distinct base rows: ``batch_arrays.base_parts``); the same values row by row.  ``overwrite``:
    ``log_scores`` is the caller's and becomes the result (the same operations, the same bits).
    """
    o, m = model.other_index, model.other_mimic
    if o < 0 or m <= 0:
        return log_scores
    own = log_scores[..., o] - base[..., o]
    # sum_c pi_c exp(lr(c)) = sum_c exp(score(c)) / sum_c exp(base(c)) over the listed c.
    listed_scores = log_scores if overwrite else log_scores.copy()
    listed_scores[..., o] = -np.inf
    if listed_base_lse is None:
        listed_base_lse = base_listed_lse(model, base)
    mimic = _logsumexp(listed_scores) - listed_base_lse
    listed_scores[..., o] = base[..., o] + np.logaddexp(np.log1p(-m) + own, np.log(m) + mimic)
    return listed_scores


def base_listed_lse(model: RankingModel, base: Array) -> Array:
    """log sum_c exp(base(c)) over the listed conditions (every one but "other"), per row."""
    listed_base = base.copy()
    listed_base[..., model.other_index] = -np.inf
    return _logsumexp(listed_base)


def _logsumexp(x: Array) -> Array:
    top = x.max(axis=-1)
    shifted = x - top[..., None]
    np.exp(shifted, out=shifted)  # in place: the same values as a new array, one [N, C] fewer
    out: Array = top + np.log(shifted.sum(axis=-1))
    return out


def _softmax(log_scores: Array, *, overwrite: bool = False) -> Array:
    """Softmax along the last axis.  ``overwrite``: ``log_scores`` is the caller's temporary and
    becomes the result in place (the same operations in the same order, so the same bits; a
    10k batch otherwise allocates more [N, C] arrays, and fresh pages cost more than the
    arithmetic on them: docs/performance.md, sixth pass (p6rank))."""
    top = log_scores.max(axis=-1, keepdims=True)
    shifted: Array = np.subtract(log_scores, top, out=log_scores if overwrite else None)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


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

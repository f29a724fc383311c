"""Bayesian ranking of conditions from present/absent findings (the math: docs/ranking.md).

The knowledge base is compiled once into NumPy arrays (``RankingModel``); a case is then a
handful of vector operations, and a batch the same sums as BLAS products across cases (exact
sums, ``model.sum_grid``: the same bits as a case alone, whatever the batch's shape).  Conditions are treated as
mutually exclusive explanations of the presenting numbness and findings as conditionally
independent given the condition (naive Bayes); unknown findings are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import numpy.typing as npt

from services.differential.batch_arrays import as_float, case_masks
from services.differential.batch_scores import batch_scores, group_terms, hallmark_log_factor
from services.differential.explain import ExplainTables, _explanations, explain_tables
from services.differential.model import (  # re-exported: the ranking's public names
    MAX_AGE,
    SETTINGS,
    Array,
    RankingModel,
    _indices,
    _log_base,
    _softmax,
    compile_model,
    counted_evidence,
    default_model,
    with_other_mimic,
)
from services.differential.own_setting import dont_miss_setting_missing, emergency_setting_missing
from services.knowledge.clinical import (
    TRIAGE_ORDER,
    Case,
    Differential,
    RedFlagHit,
    ScoredCondition,
    Triage,
    more_urgent,
    scored_condition,
)
from services.knowledge.policy import clinical_policy
from services.knowledge.red_flags import detect_red_flags

__all__ = [
    "MAX_AGE", "SETTINGS", "Array", "ExplainTables", "RankingModel", "case_arrays", "case_correction", "case_terms",
    "compile_model", "counted_evidence", "default_model", "differential_from_probabilities",
    "evidence_log_lr", "explain_tables", "hallmark_log_factor", "posterior", "posterior_batch",
    "rank", "rank_batch", "triage_for", "TRIAGE_ORDER", "emergency_setting_missing",
]

# Self-care is advised only when the self-care causes together reach this (policy.yaml).
SELF_CARE_MIN_PROBABILITY = clinical_policy().triage.self_care_min_probability.value


def posterior(case: Case, model: RankingModel | None = None) -> Array:
    """Posterior probabilities over ``model.condition_ids`` (sums to 1).

    The same terms as ``posterior_batch`` for one case, as NumPy sums of the same table rows
    (no [N, F] matrices; exact, ``model.sum_grid``), then the same steps in the same order, so
    the same bits (``tests/test_screening_determinism.py``).
    """
    return _case_probabilities(model or default_model(), case)[0]


CaseSums = tuple[Array, list[int]]


def _case_probabilities(model: RankingModel, case: Case) -> tuple[Array, Array]:
    """One case's shown (corrected) posterior [C] and its evidence log-LR [C] (``case_terms``):
    the one scoring sequence ``posterior`` and ``rank`` share, in ``batch_scores``' order."""
    sums = _case_sums(model, case)
    log_lr, hallmark = case_terms(model, case, sums)
    base = _log_base(model, case.patient)
    scores = with_other_mimic(model, base, base + log_lr + hallmark)
    return _softmax(scores + case_correction(model, sums)), log_lr


def _case_sums(model: RankingModel, case: Case) -> CaseSums:
    """[W]: the case's rows of ``model.summands`` added up (its counted present findings' and
    absent findings'; in any order: exact), and its counted present findings' columns."""
    table = model.summands
    assert table is not None, "compile_model sets the summands"
    present, absent = _indices(model, counted_evidence(model, case))
    f = len(model.finding_ids)
    out: Array = table[present + [f + i for i in absent]].sum(axis=0)
    return out, present


def case_terms(model: RankingModel, case: Case, sums: CaseSums | None = None) -> tuple[Array, Array]:
    """One case's evidence log-likelihood ratio vs background [C] (``evidence_log_lr``) and its
    hallmark discount [C] (``hallmark_log_factor``); ``sums``: its ``_case_sums`` if known."""
    c = len(model.condition_ids)
    summed, present = _case_sums(model, case) if sums is None else sums
    log_lr: Array = summed[:c].copy()
    if len(present) >= 2:
        chosen = set(present)
        for group in model.groups:
            members = [f for f in group if f in chosen]
            if len(members) >= 2:
                rows = model.log_p_t[members]
                log_lr = log_lr + rows.mean(axis=0) - rows.sum(axis=0)
    hallmark: Array = np.zeros(c)
    if model.hallmark is not None and model.hallmark_count is not None and model.hallmark_log_discount is not None:
        known_present, known_absent = _indices(model, case.evidence)
        hits = model.hallmark[known_present].sum(axis=0)
        ruled_out = model.hallmark[known_absent].sum(axis=0)
        applies = (model.hallmark_count > 0) & (hits == 0) & (ruled_out < model.hallmark_count)
        hallmark = applies * model.hallmark_log_discount
    return log_lr, hallmark


def posterior_batch(cases: Sequence[Case], model: RankingModel | None = None) -> Array:
    """Posteriors for many cases at once: [N, C]; BLAS products across the batch
    (``batch_scores``: exact sums, so each row is ``posterior`` of its case, bit for bit).

    The evidence is read from each case's column codes (``Case.columns``, set by the intake's
    ``validate``) when every case has them, else from the evidence dicts - the same masks,
    the same bits; NumPy then gathers and scatters in one go (docs/performance.md).
    Only the shown posterior is formed (``_batch_probabilities`` adds the tables').
    """
    model = model or default_model()
    return _batch_shown(cases, model)[0]


def _batch_shown(
    cases: Sequence[Case], model: RankingModel
) -> tuple[Array, Array, tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]]:
    """The shown (corrected) posteriors [N, C], the evidence log-LR [N, C] and the counted
    masks of a batch; each softmax taken in place on ``batch_scores``' fresh arrays."""
    scores, corrected, log_lr, counted = batch_scores(cases, model)
    return _softmax(scores if corrected is None else corrected, overwrite=True), log_lr, counted


def _batch_probabilities(
    cases: Sequence[Case], model: RankingModel
) -> tuple[Array, Array, tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]], Array]:
    """Posteriors [N, C], evidence log-LR [N, C], the counted masks of a batch, and the
    posteriors without the ranking correction [N, C] (what round 7's split engine's triage
    read: the cross-validation tools compare it)."""
    scores, corrected, log_lr, counted = batch_scores(cases, model)
    tables = _softmax(scores, overwrite=True)
    if corrected is None:
        return tables, log_lr, counted, tables
    return _softmax(corrected, overwrite=True), log_lr, counted, tables


def case_correction(model: RankingModel, sums: CaseSums) -> Array:
    """One case's ranking-correction term [C] (docs/ranking.md, section 9): the layer's weights of
    its counted present and absent findings, added up (exact; read from the case's ``_case_sums``);
    zeros without the layer."""
    c = len(model.condition_ids)
    if not model.has_correction:
        return np.zeros(c)
    out: Array = sums[0][c:].copy()
    return out


def case_arrays(
    cases: Sequence[Case], model: RankingModel
) -> tuple[Array, tuple[Array, Array], tuple[Array, Array]]:
    """Per case: the log prior (setting, age, sex) [N, C]; the present / absent indicators of
    the counted findings [N, F] each; and of every known finding (hallmarks read those).

    Built across the batch at once (``batch_arrays.case_masks``); the same matrices as a
    case-by-case ``counted_evidence`` pass (``tests/test_batch_arrays.py`` compares them).
    """
    base, counted, known = case_masks(cases, model)
    return base, as_float(counted), as_float(known)


def evidence_log_lr(
    model: RankingModel,
    present: Array | npt.NDArray[np.bool_],
    absent: Array | npt.NDArray[np.bool_],
) -> Array:
    """[N, C] log-likelihood ratio of each case's counted findings, condition vs background.

    Findings of a correlation group that are present together count once per condition: the
    mean of their log-likelihood ratios (instead of the sum; docs/ranking.md), after the present
    and absent sums (a BLAS product: exact, ``model.sum_grid``), in ``case_terms``' order, so a
    case's terms do not depend on the cases beside it.
    """
    out: Array = np.asarray(present, dtype=np.float64) @ model.log_p_t
    out += np.asarray(absent, dtype=np.float64) @ model.log_q_t
    return group_terms(model, present, out)


# --- from probabilities to an explained, triaged differential ---------------------------


def triage_for(
    model: RankingModel,
    probs: dict[str, float],
    red_flags: Sequence[RedFlagHit],
    poor_fit: bool = False,
    shown: dict[str, float] | None = None,
    present: AbstractSet[str] | None = None,
) -> Triage:
    """Red-flag rules first, then probability thresholds, then the leader's usual level; a
    poor fit (``fit.py``) adds what to do next and is never left at self-care, and neither is
    a self-care leader whose self-care causes together are not more likely than not.

    ``shown``: the probabilities the differential shows, when a caller (the cross-validation of
    round 7's split engine, ``devtools/cv_posterior.py``) triages on others: the leader is the one
    the clinician sees. The engine passes none: since round 8 the thresholds read the list's own
    (corrected) posterior, docs/ranking.md section 9."""
    kb = model.kb
    policy = kb.triage_policy
    seen = probs if shown is None else shown
    leader = max(seen, key=seen.__getitem__)
    level: str = kb.conditions[leader].default_triage
    reasons = [
        f"Most likely: {kb.conditions[leader].label} ({seen[leader]:.0%}), usually "
        f"{kb.triage_levels[kb.conditions[leader].default_triage].label.lower()}."
    ]
    self_care = sum(p for cid, p in probs.items() if kb.conditions[cid].default_triage == "self_care")
    if level == "self_care" and self_care < SELF_CARE_MIN_PROBABILITY:
        level = "routine"
        reasons.append(
            f"The self-care causes together are only {self_care:.0%} likely: a clinician should "
            "confirm the cause."
        )
    # A leader keeps its own usual level (step 4), unless it is an emergency outside its own setting
    # (round 12, own_setting.py): then it "cannot be excluded, see the same day".
    lead_setting = emergency_setting_missing(kb, leader, present, leading=True)
    if lead_setting:
        level = "urgent"
    for cid, prob in sorted(probs.items(), key=lambda kv: -kv[1]):
        condition = kb.conditions[cid]
        # Only an emergency condition's own setting is ever read below: not asked of the ~30 others
        # (a pure look-up, so the same triage; twelfth pass).
        setting = ""
        if condition.emergency:
            setting = lead_setting if cid == leader else emergency_setting_missing(kb, cid, present)
        if condition.emergency and (prob >= policy.emergency_condition_threshold or cid == leader) and setting:
            level = more_urgent(level, "urgent")
            reasons.append(f"{condition.label} cannot be excluded ({prob:.0%}), but {setting}; see the same day.")
        elif condition.emergency and prob >= policy.emergency_condition_threshold:
            level = more_urgent(level, "emergency")
            reasons.insert(0, f"{condition.label} is possible ({prob:.0%}): an emergency.")
        elif condition.emergency and prob >= policy.dont_miss_threshold:
            if quiet := dont_miss_setting_missing(kb, cid, present):
                reasons.append(f"{condition.label} is listed ({prob:.1%}), but {quiet}; not urgent on that alone.")
            else:
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
    poor_fit: bool | None = None,
) -> Differential:
    """Turn a probability vector into the ranked, explained, triaged differential.

    ``log_lr`` is the case's evidence log-likelihood ratio (``case_terms``) when the caller
    has it already; the fit is computed from it.  ``poor_fit``: the fit's verdict when the
    caller judged it already (``rank_batch``, for all its cases at once).  One posterior: the
    list, the don't-miss list, the triage thresholds and their reasons all read ``probs`` (the
    corrected posterior, docs/ranking.md section 9), so a clinician never reads two percentages
    for one condition.
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
        scored.append(  # ScoredCondition(...), built slot by slot (~36 per differential)
            scored_condition(
                cid, label, prob, icd10cm, snomed, emergency, dont_miss_mark, supporting, against, decisive,
                prob < floor, specialist, tables.citations[ci] if explanation is not None else (),
            )
        )
    probs_by_id = {s.condition_id: s.probability for s in scored}
    dont_miss = tuple(
        s
        for s in scored
        if ((s.emergency or s.dont_miss) and probs_by_id[s.condition_id] >= policy.dont_miss_threshold)
        or s.condition_id in flagged
    )
    return Differential(
        conditions=tuple(scored),
        dont_miss=dont_miss,
        triage=triage_for(
            model, probs_by_id, red_flags, _poor_fit(model, case, probs, log_lr) if poor_fit is None else poor_fit,
            present=case.present(),
        ),
    )


def _poor_fit(model: RankingModel, case: Case, probs: Array, log_lr: Array | None) -> bool:
    from services.differential.fit import assess_fit  # fit reads this module's arrays

    return assess_fit(model, case, probs, log_lr).poor


def rank(case: Case, model: RankingModel | None = None, *, explain: bool = True) -> Differential:
    """The ranked, explained, triaged differential for one case."""
    model = model or default_model()
    probs, log_lr = _case_probabilities(model, case)
    return differential_from_probabilities(case, probs, model, explain=explain, log_lr=log_lr)


def rank_batch(
    cases: Sequence[Case], model: RankingModel | None = None, *, explain: bool = False
) -> list[Differential]:
    """Differentials for many cases; probabilities vectorized, explanations optional."""
    from services.differential.fit import poor_fit_batch  # fit reads this module's arrays

    model = model or default_model()
    probs, log_lr, counted = _batch_shown(cases, model)
    poor = poor_fit_batch(model, probs, log_lr, counted[0]).tolist()
    return [
        differential_from_probabilities(case, row, model, explain=explain, log_lr=lr, poor_fit=bad)
        for case, row, lr, bad in zip(cases, probs, log_lr, poor, strict=True)
    ]

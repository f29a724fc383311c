"""The ranking's batch arrays, built across cases at once, equal a case-by-case pass exactly.

The oracle below is the per-case loop the vectorized ``case_arrays`` replaced (issue 15):
``counted_evidence`` per case, one cell per counted finding.  Cases: the in-process ranking
bench's draws from the model plus variants with no age, out-of-range ages, no sex, the other
setting, unknown states, the age stand-in and finding ids outside the knowledge base left
unknown - everything ``counted_evidence`` treats specially.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.ranking import cases as drawn_cases
from services.differential import ranking
from services.differential.batch_arrays import as_float, base_parts, case_masks, known_masks
from services.differential.fit import assess_fit, poor_fit_batch
from services.differential.model import (
    MAX_AGE,
    RankingModel,
    _softmax,
    counted_evidence,
    default_model,
    with_other_mimic,
)
from services.knowledge.clinical import Case, Patient, State

Arrays = tuple[np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def case_by_case(cases: list[Case], model: RankingModel) -> Arrays:
    """The reference: one Python pass per case (what ``case_arrays`` did before)."""
    n, f, c = len(cases), len(model.finding_ids), len(model.condition_ids)
    base = np.zeros((n, c))
    mats = [np.zeros((n, f)) for _ in range(4)]
    zero = np.zeros(c)
    for row, case in enumerate(cases):
        p = case.patient
        age = zero if p.age is None else model.log_age[min(max(p.age, 0), MAX_AGE)]
        sex = model.log_sex.get(p.sex, zero) if p.sex is not None else zero
        base[row] = model.log_prior[p.setting] + age + sex
        for offset, evidence in ((0, counted_evidence(model, case)), (2, case.evidence)):
            for fid, state in evidence.items():
                if state is State.PRESENT:
                    mats[offset][row, model.finding_index[fid]] = 1.0
                elif state is State.ABSENT:
                    mats[offset + 1][row, model.finding_index[fid]] = 1.0
    return base, (mats[0], mats[1]), (mats[2], mats[3])


def varied_cases(model: RankingModel) -> list[Case]:
    rng = np.random.default_rng(11)
    drawn = drawn_cases(1500, seed=5)
    stand_in = sorted(model.age_stand_ins)
    out: list[Case] = [Case(Patient(), {})]
    for i, case in enumerate(drawn):
        evidence = dict(case.evidence)
        for fid in rng.choice(model.finding_ids, 6):
            evidence[str(fid)] = (State.PRESENT, State.ABSENT, State.UNKNOWN)[int(rng.integers(3))]
        if i % 5 == 0 and stand_in:
            evidence[stand_in[0]] = (State.PRESENT, State.ABSENT, State.UNKNOWN)[i % 3]
        if i % 7 == 0:
            evidence["not_a_finding_in_the_kb"] = State.UNKNOWN
        age = (None, case.patient.age, int(rng.integers(-5, 200)))[i % 3]
        sex = None if i % 4 == 0 else case.patient.sex
        setting = ("sports_medicine", "general_adult")[i % 2]
        out.append(Case(Patient(age=age, sex=sex, setting=setting), evidence))
    return out


def test_batch_arrays_equal_a_case_by_case_pass_exactly() -> None:
    model = default_model()
    cases = varied_cases(model)
    assert any(c.patient.age is not None and set(model.age_stand_ins) & set(c.evidence) for c in cases)
    want = case_by_case(cases, model)
    got = ranking.case_arrays(cases, model)
    assert got[0].tobytes() == want[0].tobytes()
    for mine, theirs in zip(got[1] + got[2], want[1] + want[2], strict=True):
        assert mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes()


def test_hallmark_bit_tests_equal_the_counts() -> None:
    model = default_model()
    cases = varied_cases(model)
    present, absent = known_masks(model, cases)
    as_bits = ranking.hallmark_log_factor(model, present, absent)
    as_counts = ranking.hallmark_log_factor(model, present.astype(float), absent.astype(float))
    assert as_bits.tobytes() == as_counts.tobytes()
    assert (as_bits < 0).any() and (as_bits == 0).any()  # both outcomes occur


def test_posterior_batch_rows_match_single_cases() -> None:
    model = default_model()
    cases = varied_cases(model)[:200]
    batch = ranking.posterior_batch(cases, model)
    for row, case in zip(batch, cases, strict=True):
        assert np.allclose(row, ranking.posterior(case, model), rtol=0, atol=1e-12)


def test_an_unknown_finding_with_a_known_state_is_refused_in_a_batch() -> None:
    with pytest.raises(KeyError, match="not_a_finding"):
        ranking.posterior_batch([Case(Patient(), {"not_a_finding": State.PRESENT})])


def test_batch_fit_verdicts_equal_assess_fit_per_case() -> None:
    model = default_model()
    cases = varied_cases(model)
    base, counted, known = case_masks(cases, model)
    log_lr = ranking.evidence_log_lr(model, *as_float(counted))
    probs = ranking.posterior_batch(cases, model)
    batch = poor_fit_batch(model, probs, log_lr, counted[0])
    single = [assess_fit(model, c, p, lr).poor for c, p, lr in zip(cases, probs, log_lr, strict=True)]
    assert batch.tolist() == single
    assert 0 < sum(single) < len(single)  # both verdicts occur
    # a batch of cases judged poor: the batch differential's triage matches the single one's
    poor = [c for c, bad in zip(cases, single, strict=True) if bad][:20]
    for one, case in zip(ranking.rank_batch(poor, model), poor, strict=True):
        assert one.triage == ranking.rank(case, model, explain=False).triage


def test_prior_rows_per_distinct_patient_give_the_same_bits_as_per_case() -> None:
    """``posterior_batch`` computes the prior rows and the "other" leak's normalizer once per
    distinct (setting, age, sex); the posteriors equal the per-row computation bit for bit."""
    model = default_model()
    cases = varied_cases(model)
    base, counted, known = case_masks(cases, model)
    scores = base + ranking.evidence_log_lr(model, *as_float(counted)) + ranking.hallmark_log_factor(model, *known)
    mixed = with_other_mimic(model, base, scores)  # every row's normalizer computed
    if model.has_correction:
        # the ranking correction (docs/ranking.md, section 9): present + absent weights (exact sums)
        assert model.summands is not None
        present, absent = as_float(counted)
        f, c = len(model.finding_ids), len(model.condition_ids)
        mixed = mixed + (present @ model.summands[:f, c:] + absent @ model.summands[f:, c:])
    per_row = _softmax(mixed)
    batch = ranking.posterior_batch(cases, model)
    assert model.other_index >= 0 and model.other_mimic > 0  # the shared normalizer is exercised
    assert np.array_equal(batch, per_row)
    distinct, which = base_parts(model, [c.patient for c in cases])
    assert len(distinct) < len(cases) // 4  # few distinct rows, so the sharing pays
    assert np.array_equal(distinct[which], case_by_case(cases, model)[0])

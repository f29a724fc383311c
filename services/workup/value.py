"""What a test is worth: the KB's tests compiled to arrays, the uncertainty math, burden.

Split out of ``domain.py`` so the numbers can be read (and checked against
``docs/workup.md``) without the plan's search or its words around them.  Conditions are
mutually exclusive, a test's result is binary and conditionally independent of the findings
and of other tests given the condition; ``P(abnormal | c)`` is the KB sensitivity for a
condition the test detects and its background false-positive rate for any other.  A test is
worth the expected drop of a concave uncertainty measure (entropy of the differential plus
weighted binary entropy of each open don't-miss condition), divided by its burden.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.differential.ranking import RankingModel, compile_model
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import DiagnosticTest
from services.knowledge.policy import clinical_policy

Array = npt.NDArray[np.float64]


# Weight of the binary entropy of each open don't-miss condition, relative to the entropy of
# the whole differential: a nat about "is the dangerous cause there or not" counts 2.5 times
# (once in the entropy, 1.5 more here) a nat that only reshuffles benign causes.
DONT_MISS_WEIGHT = clinical_policy().workup.dont_miss_weight.value  # knowledge/data/policy.yaml
# Burden of a test: (1 + cost)(1 + invasiveness)(1 + wait / WAIT_SCALE_DAYS), divided into
# its information.  A medium-cost test with a four-week wait must be three times as
# informative as a cheap same-day one to be ordered first (see docs/workup.md).
COST_BURDEN = {"low": 0.0, "medium": 0.5, "high": 1.0}
INVASIVENESS_BURDEN = {"none": 0.0, "minimal": 0.25, "moderate": 2.0, "high": 4.0}
WAIT_SCALE_DAYS = 28.0
MAX_WAIT_DAYS = 42
# In the immediate tier only time to a result matters: each day of waiting adds 1 to the divisor.
EMERGENCY_WAIT_BURDEN_PER_DAY = 1.0


# --- the KB's tests as arrays ------------------------------------------------------------


@dataclass(frozen=True)
class CompiledTests:
    """Every test that detects something, as ``P(abnormal | condition)`` rows."""

    kb: KnowledgeBase
    model: RankingModel
    condition_ids: tuple[str, ...]
    condition_index: dict[str, int]
    test_ids: tuple[str, ...]
    test_index: dict[str, int]
    abnormal: Array  # [T, C]
    false_positive: Array  # [T] background false-positive rate
    planning: Array  # [T, C + 1]: ``abnormal`` plus a last "rest" column at the background rate
    planning_normal: Array  # [T, C + 1]: ``1 - planning`` (P(normal | c)), computed once
    burdens: Array  # [T] outpatient ``burden`` of each test (constant per knowledge base)
    contraindicating: frozenset[str]  # every flag that contraindicates some test


_TABLES: dict[int, CompiledTests] = {}


def background_false_positive(test: DiagnosticTest) -> float:
    """``P(abnormal)`` in a condition the test does not detect: 1 - mean KB specificity.

    Specificities in the KB are measured against people without the target condition, which
    is what every other condition of the differential is from the test's point of view; the
    mean pools the figures when a test has several.
    """
    if not test.detects:
        return 0.0
    return 1.0 - float(np.mean([acc.specificity for acc in test.detects.values()]))


def compiled_tests(kb: KnowledgeBase) -> CompiledTests:
    """Compile (once per knowledge base) the tests and the ranking model they re-rank with."""
    cached = _TABLES.get(id(kb))
    if cached is not None and cached.kb is kb:
        return cached
    model = compile_model(kb)
    conditions = model.condition_ids
    c_index = {c: i for i, c in enumerate(conditions)}
    usable = [t for t in kb.tests.values() if t.detects]
    abnormal = np.empty((len(usable), len(conditions)))
    false_positive = np.empty(len(usable))
    for ti, test in enumerate(usable):
        fp = background_false_positive(test)
        false_positive[ti] = fp
        abnormal[ti, :] = fp
        for cid, acc in test.detects.items():
            abnormal[ti, c_index[cid]] = acc.sensitivity
    planning = np.concatenate([abnormal, false_positive[:, None]], axis=1)
    table = CompiledTests(
        kb=kb,
        model=model,
        condition_ids=conditions,
        condition_index=c_index,
        test_ids=tuple(t.id for t in usable),
        test_index={t.id: i for i, t in enumerate(usable)},
        abnormal=abnormal,
        false_positive=false_positive,
        planning=planning,
        planning_normal=1.0 - planning,
        burdens=np.array([burden(t) for t in usable]),
        contraindicating=frozenset(f for t in usable for f in t.contraindications),
    )
    _TABLES.clear()  # one knowledge base per process; don't keep stale ones alive
    _TABLES[id(kb)] = table
    return table


# --- uncertainty and expected information -------------------------------------------------


def entropy(p: Array) -> Array:
    """Shannon entropy in nats along the last axis (0 log 0 = 0)."""
    safe = np.where(p > 0, p, 1.0)
    out: Array = -(p * np.log(safe)).sum(axis=-1)
    return out


def binary_entropy(p: Array) -> Array:
    """Entropy in nats of "condition present vs absent" for each probability."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    out: Array = -(q * np.log(q) + (1 - q) * np.log1p(-q))
    return out


def uncertainty(p: Array, watched: Sequence[int]) -> Array:
    """Entropy of the differential plus weighted binary entropy of don't-miss conditions.

    Both terms are concave in ``p``, so the expected uncertainty after any test is never
    above the current one: information values are never negative.
    """
    total = entropy(p)
    if watched:
        total = total + DONT_MISS_WEIGHT * binary_entropy(p[..., list(watched)]).sum(axis=-1)
    return total


def outcome_likelihoods(table: CompiledTests, tests: Sequence[int]) -> Array:
    """``P(joint outcome | condition)`` for every joint outcome of ``tests``: [2^k, C + 1]."""
    rows = np.ones((1, table.planning.shape[1]))
    for ti in tests:
        a = table.planning[ti]
        rows = np.concatenate([rows * a, rows * (1.0 - a)], axis=0)
    return rows


def expected_uncertainty(
    table: CompiledTests, prior: Array, tests: Sequence[int], watched: Sequence[int]
) -> float:
    """Expected uncertainty after seeing the results of ``tests`` (pre-posterior analysis)."""
    likelihood = outcome_likelihoods(table, tests)
    joint = likelihood * prior  # [O, C]
    p_outcome = joint.sum(axis=1)
    keep = p_outcome > 0
    post = joint[keep] / p_outcome[keep, None]
    return float((p_outcome[keep] * uncertainty(post, watched)).sum())


def expected_uncertainty_each(
    table: CompiledTests, prior: Array, chosen: Sequence[int], watched: Sequence[int]
) -> Array:
    """Expected uncertainty after ``chosen`` plus each test in turn: [T], one array pass."""
    return expected_uncertainties(table, prior, chosen, watched)[1]


def expected_uncertainties(
    table: CompiledTests,
    prior: Array,
    chosen: Sequence[int],
    watched: Sequence[int],
    tests: Sequence[int] | None = None,
) -> tuple[float, Array]:
    """``expected_uncertainty`` after ``chosen`` and ``expected_uncertainty_each``, sharing
    the outcome likelihoods (one greedy round).  Each number is computed by exactly the same
    array operations, in the same order, as by the two functions apart: the greedy search
    compares scores, so the speed-up must not move a bit of them.  ``tests``: only these
    tests' values ([len(tests)], in that order); each test's row is computed on its own (every
    sum runs along a row's conditions), so its value is the bits it has among all [T]."""
    joint0 = outcome_likelihoods(table, chosen) * prior  # [O, K]
    p0 = joint0.sum(axis=1)
    keep = p0 > 0
    post0 = joint0[keep] / p0[keep, None]
    base = float((p0[keep] * uncertainty(post0, watched)).sum())
    planning, normal = (
        (table.planning, table.planning_normal) if tests is None
        else (table.planning[list(tests)], table.planning_normal[list(tests)])
    )
    joint = np.concatenate(
        [joint0 * planning[:, None, :], joint0 * normal[:, None, :]], axis=1
    )  # [T, 2O, K]
    p_outcome = joint.sum(axis=2)
    safe = np.where(p_outcome > 0, p_outcome, 1.0)
    post = joint / safe[..., None]
    each: Array = (p_outcome * uncertainty(post, watched)).sum(axis=1)
    return base, each


def available_now(test: DiagnosticTest, condition_id: str | None = None) -> bool:
    """Same day: in the usual setting, or on the emergency pathway for ``condition_id``."""
    return test.same_day or (
        condition_id is not None and condition_id in test.same_day_if_suspected
    )


def burden(
    test: DiagnosticTest, *, emergency: bool = False, condition_id: str | None = None
) -> float:
    """The factor a test's information is divided by (1 = cheap, painless, same day).

    In an emergency only time to a result counts: a test that cannot be done the same day
    is worth a small fraction of one that can, whatever it costs.  A test the KB lists as
    same-day on the emergency pathway for the suspected condition (``same_day_if_suspected``,
    e.g. MRI for cauda equina) counts as same day for that condition only.
    """
    if emergency:
        days = 0 if available_now(test, condition_id) else max(test.typical_wait_days, 1)
        return 1.0 + EMERGENCY_WAIT_BURDEN_PER_DAY * days
    wait = min(test.typical_wait_days, MAX_WAIT_DAYS) / WAIT_SCALE_DAYS
    return (
        (1.0 + COST_BURDEN[test.cost_tier])
        * (1.0 + INVASIVENESS_BURDEN[test.invasiveness])
        * (1.0 + wait)
    )


@functools.lru_cache(maxsize=4096)
def equipoise_information(sensitivity: float, false_positive: float) -> float:
    """Mutual information (nats) between a binary result and a 50:50 condition.

    Memoised: a pure function of two KB figures, asked for the same few pairs by every
    athlete's immediate tests and leader check (two small NumPy calls each, ninth pass)."""
    p_abnormal = 0.5 * (sensitivity + false_positive)
    before = math.log(2.0)
    after = 0.0
    for p_r, p_c in (
        (p_abnormal, 0.5 * sensitivity),
        (1.0 - p_abnormal, 0.5 * (1.0 - sensitivity)),
    ):
        if p_r > 0:
            q = np.array([p_c / p_r])
            after += p_r * float(binary_entropy(q)[0])
    return before - after

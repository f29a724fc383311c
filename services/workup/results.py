"""Test results in: validate them, re-rank the differential, explain what moved and why.

Split out of ``domain.py`` because reading results is a separate flow from planning tests:
each result multiplies the case's posterior by ``P(result | c)`` (sensitivity /
false-positive rate from the KB), results are applied one after another (conditionally
independent given the condition), and every notable change is explained with the figures
that caused it.  The next tests are added by ``domain.apply_results``, which composes this
with the plan and so keeps this module free of the planning code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.differential.ranking import differential_from_probabilities, posterior
from services.knowledge.clinical import Case, Differential, TestRecommendation
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import DiagnosticTest
from services.platform.errors import InvalidInput, Violation
from services.workup.rationale import leading_condition, pct
from services.workup.value import Array, CompiledTests, compiled_tests

OUTCOMES = ("normal", "abnormal")


@dataclass(frozen=True, slots=True)
class ResultInput:
    test_id: str
    outcome: str | None  # "normal" | "abnormal" | None (then value is required)
    value: float | None
    target_condition_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbabilityChange:
    condition_id: str
    before: float
    after: float
    explanation: str


@dataclass(frozen=True, slots=True)
class PostTestResult:
    differential: Differential
    next_tests: tuple[TestRecommendation, ...]
    changes: tuple[ProbabilityChange, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A validated result: its outcome and the conditions whose accuracy figures apply."""

    test: DiagnosticTest
    outcome: str
    value: float | None
    bearing: tuple[str, ...]  # targets when given, else every condition the test detects


MAX_CHANGES = 5
MIN_CHANGE = 0.005


def read_value(test: DiagnosticTest, value: float) -> str:
    """Normal or abnormal, read against the KB threshold (the caller checked plausibility)."""
    threshold = test.value
    assert threshold is not None
    below = threshold.abnormal_below is not None and value < threshold.abnormal_below
    above = threshold.abnormal_above is not None and value > threshold.abnormal_above
    return "abnormal" if below or above else "normal"


def _threshold_words(test: DiagnosticTest) -> str:
    t = test.value
    if t is None:
        return ""
    parts = []
    if t.abnormal_below is not None:
        parts.append(f"below {t.abnormal_below:g}")
    if t.abnormal_above is not None:
        parts.append(f"above {t.abnormal_above:g}")
    return f"abnormal {' or '.join(parts)} {t.unit}".strip()


def _check_value(test: DiagnosticTest, r: ResultInput, field: str) -> list[Violation]:
    assert r.value is not None
    t = test.value
    if t is None:
        return [Violation(field, f"test {test.id!r} has no numeric threshold; give an outcome")]
    if not (math.isfinite(r.value) and t.plausible_min <= r.value <= t.plausible_max):
        return [
            Violation(
                field,
                f"{r.value:g} is outside the plausible range {t.plausible_min:g}-"
                f"{t.plausible_max:g} {t.unit} for {test.label}",
            )
        ]
    if r.outcome is not None and r.outcome != read_value(test, r.value):
        return [
            Violation(
                field,
                f"{r.value:g} {t.unit} reads {read_value(test, r.value)} "
                f"({_threshold_words(test)}), but the outcome says {r.outcome}",
            )
        ]
    return []


def _check_targets(
    kb: KnowledgeBase, test: DiagnosticTest, targets: Sequence[str], field: str
) -> list[Violation]:
    problems = []
    for j, cid in enumerate(targets):
        if cid not in kb.conditions:
            problems.append(Violation(f"{field}[{j}]", f"unknown condition {cid!r}"))
        elif cid not in test.detects:
            problems.append(
                Violation(
                    f"{field}[{j}]",
                    f"{test.label} has no sensitivity/specificity for {cid!r} in the knowledge "
                    f"base; it detects {', '.join(sorted(test.detects))}",
                )
            )
        elif cid in targets[:j]:
            problems.append(Violation(f"{field}[{j}]", f"{cid!r} is listed twice"))
    return problems


def _read_one(
    kb: KnowledgeBase, r: ResultInput, field: str, seen: set[str]
) -> tuple[ReadResult | None, list[Violation]]:
    test = kb.tests.get(r.test_id)
    if test is None:
        return None, [Violation(f"{field}.test_id", f"unknown test {r.test_id!r}")]
    if not test.detects:
        return None, [Violation(f"{field}.test_id", f"{r.test_id!r} has no result to apply")]
    if r.test_id in seen:
        return None, [Violation(f"{field}.test_id", f"{r.test_id!r} is given twice")]
    seen.add(r.test_id)
    problems: list[Violation] = []
    if r.outcome is not None and r.outcome not in OUTCOMES:
        problems.append(Violation(f"{field}.outcome", "must be 'normal' or 'abnormal'"))
    if r.outcome is None and r.value is None:
        problems.append(
            Violation(f"{field}.value", "required when the outcome is unspecified")
        )
    if r.value is not None and not problems:
        problems += _check_value(test, r, f"{field}.value")
    problems += _check_targets(kb, test, r.target_condition_ids, f"{field}.target_condition_ids")
    if problems:
        return None, problems
    outcome = r.outcome if r.outcome is not None else read_value(test, r.value or 0.0)
    bearing = r.target_condition_ids or tuple(test.detects)
    return ReadResult(test, outcome, r.value, bearing), []


def read_results(
    kb: KnowledgeBase, results: Sequence[ResultInput], prefix: str = "results"
) -> list[ReadResult]:
    """Validate every result, reporting all bad fields together."""
    if not results:
        raise InvalidInput([Violation(prefix, "at least one test result is required")])
    problems: list[Violation] = []
    read: list[ReadResult] = []
    seen: set[str] = set()
    for i, r in enumerate(results):
        item, bad = _read_one(kb, r, f"{prefix}[{i}]", seen)
        problems += bad
        if item is not None:
            read.append(item)
    if problems:
        raise InvalidInput(problems)
    return read


def result_likelihood(table: CompiledTests, result: ReadResult) -> Array:
    """``P(this result | c)`` for every condition.

    Abnormal: sensitivity for each condition the result bears on; for every other
    condition the false-positive rate of that finding (1 - mean specificity of the bearing
    conditions).  Normal: the complements (1 - sensitivity; specificity).
    """
    accs = [result.test.detects[c] for c in result.bearing]
    fp = 1.0 - float(np.mean([a.specificity for a in accs]))
    abnormal = np.full(len(table.condition_ids), fp)
    for cid, acc in zip(result.bearing, accs, strict=True):
        abnormal[table.condition_index[cid]] = acc.sensitivity
    if result.outcome == "abnormal":
        return abnormal
    out: Array = 1.0 - abnormal
    return out


def _result_words(r: ReadResult) -> str:
    value = ""
    if r.value is not None and r.test.value is not None:
        value = f" ({r.value:g} {r.test.value.unit}; {_threshold_words(r.test)})"
    return f"{r.test.label} {r.outcome}{value}"


def _likelihood_ratio(lik: Array, prior: Array, ci: int) -> float:
    rest = 1.0 - float(prior[ci])
    if rest <= 0:
        return 1.0
    p_not = (float(lik @ prior) - float(lik[ci] * prior[ci])) / rest
    return float(lik[ci]) / p_not if p_not > 0 else math.inf


def _explain(
    kb: KnowledgeBase,
    cid: str,
    ci: int,
    steps: Sequence[tuple[ReadResult, Array, Array]],
    before: float,
    after: float,
) -> str:
    parts = []
    for r, lik, prior in steps:
        lr = _likelihood_ratio(lik, prior, ci)
        if cid in r.bearing:
            acc = r.test.detects[cid]
            parts.append(
                f"{_result_words(r)}: sensitivity {acc.sensitivity:.0%}, specificity "
                f"{acc.specificity:.0%} for it, so this result is {lr:.2g} times as likely "
                "with it as without"
            )
        else:
            fp = 1.0 - float(np.mean([r.test.detects[c].specificity for c in r.bearing]))
            parts.append(
                f"{_result_words(r)} does not test for it (false-positive rate {fp:.0%}); "
                f"it moved as the conditions the test bears on moved (likelihood ratio {lr:.2g})"
            )
    label = kb.conditions[cid].label
    return f"{label}: {pct(before)} -> {pct(after)}. " + "; ".join(parts) + "."


def post_test_summary(
    before: Differential, after: Differential, reads: Sequence[ReadResult],
    changes: Sequence[ProbabilityChange], kb: KnowledgeBase,
) -> str:
    results = "; ".join(_result_words(r) for r in reads)
    lead_after = leading_condition(after)
    lead_before = leading_condition(before)
    lead = (
        f"{lead_after.label} still leads ({pct(lead_before.probability)} -> "
        f"{pct(lead_after.probability)})"
        if lead_after.condition_id == lead_before.condition_id
        else f"{lead_after.label} now leads ({pct(lead_after.probability)}), ahead of "
        f"{lead_before.label} (was {pct(lead_before.probability)})"
    )
    moved = ""
    if changes:
        top = changes[0]
        moved = (
            f" Largest change: {kb.conditions[top.condition_id].label} "
            f"{pct(top.before)} -> {pct(top.after)}."
        )
    triage = kb.triage_levels[after.triage.level].label
    return f"After {results}: {lead}.{moved} Triage: {triage}."


def rerank(
    kb: KnowledgeBase, case: Case, reads: Sequence[ReadResult]
) -> tuple[Differential, Differential, tuple[ProbabilityChange, ...]]:
    """The differential before and after ``reads``, and the largest changes explained.

    Post-test probabilities are the case's posterior times ``P(result | c)``, renormalized
    after each result; the order of results changes only the explanation's wording.
    """
    table = compiled_tests(kb)
    model = table.model
    prior = posterior(case, model)
    steps: list[tuple[ReadResult, Array, Array]] = []
    probs = prior
    for r in reads:
        lik = result_likelihood(table, r)
        steps.append((r, lik, probs))
        probs = probs * lik
        probs = probs / probs.sum()
    before_diff = differential_from_probabilities(case, prior, model, explain=False)
    after_diff = differential_from_probabilities(case, probs, model)
    delta = np.abs(probs - prior)
    changes = tuple(
        ProbabilityChange(
            condition_id=model.condition_ids[ci],
            before=float(prior[ci]),
            after=float(probs[ci]),
            explanation=_explain(
                kb, model.condition_ids[ci], int(ci), steps, float(prior[ci]), float(probs[ci])
            ),
        )
        for ci in np.argsort(-delta, kind="stable")[:MAX_CHANGES]
        if delta[ci] >= MIN_CHANGE
    )
    return before_diff, after_diff, changes

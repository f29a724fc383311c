"""The work-up's memoised pieces answer exactly as computing afresh, whatever came before.

Each memo (the tests a search may add, a test's citations, the figures a plan's words quote,
the equipoise information) is keyed on part of its inputs; a key missing an input would hand
one athlete another's answer.  So each is asked in a shuffled order mixing every vignette and
roster athlete, each context with and without a contraindicating flag and an excluded test,
and compared with the uncached computation written out here.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from services.knowledge.clinical import CitationRef
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import DiagnosticTest
from services.workup import candidates, rationale, selection, value
from tests.test_batch_search import contexts


def varied_contexts() -> list[selection.Context]:
    """Every context, and each with a flag that contraindicates a test and an excluded test."""
    base = contexts()
    table = base[0].table
    flags = sorted(table.contraindicating)
    out = list(base)
    for i, c in enumerate(base[::3]):
        out.append(dataclasses.replace(c, flags=c.flags | {flags[i % len(flags)]}))
        out.append(dataclasses.replace(c, exclude=frozenset({table.test_ids[i % len(table.test_ids)]})))
    random.Random(5).shuffle(out)
    return out


def test_allowed_tests_are_each_contexts_own() -> None:
    seen = set()
    for ctx in varied_contexts():
        for avoid in (True, False):
            got = selection.Search(ctx, [], avoid_flags=avoid).allowed
            expected = np.array(
                [
                    t not in ctx.exclude
                    and not (avoid and candidates.contraindications_found(ctx.kb.tests[t], ctx.flags))
                    for t in ctx.table.test_ids
                ]
            )
            assert got.tolist() == expected.tolist(), (sorted(ctx.flags), sorted(ctx.exclude), avoid)
            assert not got.flags.writeable  # shared between searches: nobody may change it
            seen.add(tuple(got.tolist()))
    assert len(seen) > 3  # flags and exclusions really change the answer here


def uncached_citations(
    kb: KnowledgeBase, test: DiagnosticTest, conditions: tuple[str, ...]
) -> tuple[CitationRef, ...]:
    refs: dict[str, CitationRef] = {}
    for key in test.citations:
        refs.setdefault(key, CitationRef(key, kb.sources[key].title))
    for cid in conditions:
        acc = test.detects.get(cid)
        if acc is not None:
            for key in acc.citations:
                refs.setdefault(key, CitationRef(key, kb.sources[key].title, acc.estimate))
    return tuple(refs.values())


def test_citations_are_each_tests_and_conditions_own() -> None:
    ctxs = varied_contexts()
    kb = ctxs[0].kb
    asked = []
    for ctx in ctxs:
        for tid in ctx.table.test_ids:
            test = kb.tests[tid]
            asked.append((test, rationale.bears_on(ctx, test)))
    random.Random(9).shuffle(asked)
    for test, conditions in asked * 2:  # the second round is answered from the memo
        assert rationale._citations(kb, test, conditions) == uncached_citations(kb, test, conditions)
    assert len({(t.id, c) for t, c in asked}) > 50


def test_a_plans_words_quote_its_own_context() -> None:
    """The words of each test of each plan, asked interleaved across athletes (the per-plan
    figures are kept for the last context only), equal the words asked for alone."""
    ctxs = varied_contexts()[:60]
    plans = [selection.plan(c) for c in ctxs]
    alone = []
    for ctx, picks in zip(ctxs, plans, strict=True):
        rationale._QUOTED.clear()
        alone.append([rationale.recommendation(ctx, p) for p in picks])
    order = [(i, j) for i, picks in enumerate(plans) for j in range(len(picks))]
    random.Random(2).shuffle(order)
    for i, j in order:
        assert rationale.recommendation(ctxs[i], plans[i][j]) == alone[i][j]
    assert sum(len(p) for p in plans) > 80


def test_equipoise_information_is_the_formula() -> None:
    value.equipoise_information.cache_clear()
    for sensitivity, false_positive in [(0.9, 0.1), (0.5, 0.5), (1.0, 0.0), (0.3, 0.02), (0.9, 0.1)]:
        p = 0.5 * (sensitivity + false_positive)
        after = sum(
            pr * float(value.binary_entropy(np.array([pc / pr]))[0])
            for pr, pc in ((p, 0.5 * sensitivity), (1.0 - p, 0.5 * (1.0 - sensitivity)))
            if pr > 0
        )
        assert value.equipoise_information(sensitivity, false_positive) == np.log(2.0) - after
    assert value.equipoise_information.cache_info().hits == 1

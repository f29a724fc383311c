"""The work-up's batch search gives every athlete exactly the plan of the one-athlete search.

Cases: every clinical vignette and 120 roster athletes (``test_fast_paths.ranked_cases``:
emergencies, don't-miss conditions, context flags that contraindicate tests).  The values of
each greedy round are compared bit for bit, the plans pick for pick (scores included), and
the batch RPC's answers message for message with the items answered one by one.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from footcds.v1 import common_pb2, workup_pb2

from services.differential.handlers import case_from_pb
from services.knowledge.loader import knowledge_base
from services.wire.batch import each_item
from services.workup import domain, handlers, selection
from services.workup.batch_search import expected_uncertainties_batch, plan_batch
from services.workup.value import expected_uncertainties
from tests.test_fast_paths import ranked_cases


def contexts() -> list[selection.Context]:
    kb = knowledge_base()
    out = []
    for patient, evidence, differential in ranked_cases():
        start = domain.plan_context(
            kb, case_from_pb(kb, patient, evidence), handlers.ranked_from_pb(differential)
        )
        if isinstance(start, domain.Pending):
            out.append(start.ctx)
    # the same athletes with each flag that contraindicates a test (the second search runs)
    flags = sorted(out[0].table.contraindicating)
    out += [dataclasses.replace(c, flags=c.flags | {flags[i % len(flags)]}) for i, c in enumerate(out[::4])]
    return out


def test_batch_plans_are_the_one_athlete_plans_pick_for_pick() -> None:
    ctxs = contexts()
    assert len(ctxs) > 100
    assert any(selection.needs_unconstrained(c) for c in ctxs)  # the second search is exercised
    assert any(c.emergencies for c in ctxs) and any(c.watched for c in ctxs)
    batch = plan_batch(ctxs)
    assert batch == [selection.plan(c) for c in ctxs]
    assert len({len(p) for p in batch}) > 1  # searches stop at different rounds


def assert_batch_values_equal_single(ctxs: list[selection.Context], seed: int, rounds: int, *,
                                     subsets: bool) -> None:
    """Each search's batch values equal its one-athlete values bit for bit, with ``k`` tests already
    chosen at random for every ``k`` below ``rounds``. ``subsets``: the batch values only five random
    tests per search (the work-up's candidates) and must give exactly those rows of the all-test values,
    and the one-athlete path asked for the same five."""
    table = ctxs[0].table
    rng = np.random.default_rng(seed)
    priors = np.stack([c.prior for c in ctxs])
    for k in range(rounds):
        chosen = [sorted(rng.choice(len(table.test_ids), k, replace=False).tolist()) for _ in ctxs]
        picked = np.array(chosen, dtype=np.intp).reshape(len(ctxs), k)
        tests = (np.array([rng.choice(len(table.test_ids), 5).tolist() for _ in ctxs], dtype=np.intp)
                 if subsets else None)
        for watched in {c.watched for c in ctxs}:
            bases, each = expected_uncertainties_batch(table, priors, picked, watched, tests)
            for row, ctx in enumerate(ctxs):
                base, every = expected_uncertainties(table, ctx.prior, chosen[row], watched)
                assert bases[row] == base
                if tests is None:
                    assert each[row].tobytes() == every.tobytes()
                else:
                    _, some = expected_uncertainties(table, ctx.prior, chosen[row], watched, tests[row].tolist())
                    assert each[row].tobytes() == every[tests[row]].tobytes() == some.tobytes()


def test_batch_values_equal_single_values_bit_for_bit() -> None:
    assert_batch_values_equal_single(contexts()[:40], seed=3, rounds=5, subsets=False)


def test_an_impossible_outcome_is_left_to_the_one_athlete_path() -> None:
    ctx = contexts()[0]
    planning = ctx.table.planning.copy()
    planning[0] = 1.0  # test 0 always abnormal: its "normal" outcome cannot happen
    table = dataclasses.replace(ctx.table, planning=planning, planning_normal=1.0 - planning)
    priors = np.stack([ctx.prior, ctx.prior])
    bases, each = expected_uncertainties_batch(table, priors, np.array([[0], [1]], dtype=np.intp), ctx.watched)
    assert bases[0] is None and bases[1] == expected_uncertainties(table, ctx.prior, [1], ctx.watched)[0]


def test_the_batch_rpc_answers_each_item_as_alone_errors_included() -> None:
    items = [
        workup_pb2.RecommendTestsRequest(patient=p, evidence=e, differential=d)
        for p, e, d in itertools.islice(ranked_cases(), 0, None, 3)
    ]
    broken = workup_pb2.RecommendTestsRequest()
    broken.CopyFrom(items[1])
    del broken.differential.conditions[:]
    items.insert(2, broken)
    batch = handlers.recommend_tests_batch(workup_pb2.RecommendTestsBatchRequest(items=items))
    alone = list(each_item(items, handlers.recommend_tests))
    assert [r.index for r in batch.results] == list(range(len(items)))
    for result, (_, expected) in zip(batch.results, alone, strict=True):
        if isinstance(expected, common_pb2.BatchItemError):
            assert result.error == expected
            assert "items[2].differential.conditions" in str(result.error)
        else:
            assert result.response == expected

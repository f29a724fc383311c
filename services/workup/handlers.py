"""Work-up handlers: message in, message out, calling ``domain``.

Used by the servicer (the gRPC edge) and the in-process runner alike.
"""

from __future__ import annotations

from footcds.v1 import common_pb2, workup_pb2

from services.differential.handlers import case_from_pb
from services.knowledge.loader import knowledge_base
from services.wire import convert, encoding
from services.wire.batch import each_item
from services.workup import domain
from services.workup.batch_search import plan_batch
from services.workup.ranked import Ranked, leader_index
from services.workup.selection import plan

OUTCOMES = {
    common_pb2.TEST_OUTCOME_NORMAL: "normal",
    common_pb2.TEST_OUTCOME_ABNORMAL: "abnormal",
}


def recommend_tests(
    request: workup_pb2.RecommendTestsRequest, prefix: str = ""
) -> workup_pb2.RecommendTestsResponse:
    start = _start(request, prefix)
    result = start if isinstance(start, domain.WorkupResult) else domain.finish_plan(start, plan(start.ctx))
    return _response(result)


def _start(request: workup_pb2.RecommendTestsRequest, prefix: str) -> domain.WorkupResult | domain.Pending:
    """The request checked and read, up to the test search."""
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence), prefix, columns=False)  # reads none
    return domain.plan_context(kb, case, ranked_from_pb(request.differential), prefix=prefix)


def ranked_from_pb(msg: common_pb2.Differential) -> Ranked:
    """The differential's columns read straight from the message (``convert.differential_columns``),
    the leader and the don't-miss list as conditions: what ``ranked_of`` gives for the domain
    ``Differential``, without a condition object per condition."""
    conditions = msg.conditions
    ids, probabilities = convert.differential_columns(msg)
    return Ranked(
        ids=ids,
        probabilities=probabilities,
        dont_miss=tuple([convert.lean_scored_from_pb(c) for c in msg.dont_miss]),
        triage=convert.triage_from_pb(msg.triage),
        leader=convert.lean_scored_from_pb(conditions[leader_index(probabilities)]) if probabilities else None,
    )


def _response(result: domain.WorkupResult) -> workup_pb2.RecommendTestsResponse:
    kb = knowledge_base()
    return workup_pb2.RecommendTestsResponse(
        tests=[convert.test_to_pb(t) for t in result.tests],
        note=result.note,
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )


def recommend_tests_batch(
    request: workup_pb2.RecommendTestsBatchRequest,
) -> workup_pb2.RecommendTestsBatchResponse:
    """Each item checked and read on its own (``each_item``); the test searches of all items
    then run together (``batch_search.plan_batch``: the same plans, valued in array passes)."""
    kb = knowledge_base()
    started = list(each_item(request.items, _start))
    pending = [o for _, o in started if isinstance(o, domain.Pending)]
    plans = iter(plan_batch([p.ctx for p in pending]))
    # Results filled in place (as ``_response`` builds them), not built and copied twice.
    response = workup_pb2.RecommendTestsBatchResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    for index, outcome in started:
        item = response.results.add(index=index)
        if isinstance(outcome, common_pb2.BatchItemError):
            item.error.CopyFrom(outcome)
            continue
        result = domain.finish_plan(outcome, next(plans)) if isinstance(outcome, domain.Pending) else outcome
        target = item.response
        for test in result.tests:
            encoding.fill_test(target.tests.add(), test)
        target.note = result.note
        target.kb_version = kb.version
        target.disclaimer = kb.disclaimer
    return response


def submit_test_results(
    request: workup_pb2.SubmitTestResultsRequest,
) -> workup_pb2.SubmitTestResultsResponse:
    kb = knowledge_base()
    case = case_from_pb(kb, request.patient, list(request.evidence))
    results = [
        domain.ResultInput(
            test_id=r.test_id,
            outcome=OUTCOMES.get(r.outcome),
            value=r.value if r.HasField("value") else None,
            target_condition_ids=tuple(r.target_condition_ids),
        )
        for r in request.results
    ]
    post = domain.apply_results(kb, case, results)
    return workup_pb2.SubmitTestResultsResponse(
        differential=encoding.differential_to_pb(post.differential),
        next_tests=[convert.test_to_pb(t) for t in post.next_tests],
        changes=[
            workup_pb2.ProbabilityChange(
                condition_id=c.condition_id, before=c.before, after=c.after,
                explanation=c.explanation,
            )
            for c in post.changes
        ],
        summary=post.summary,
        kb_version=kb.version,
        disclaimer=kb.disclaimer,
    )

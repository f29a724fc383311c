"""The ranking and treatment batch responses spliced as bytes are the responses built as messages.

``RankDifferentialBatch`` and ``PlanTreatmentBatch`` answer each item from bytes they already
hold (the differential's cached pieces, the plan cache) and send the response as bytes
(``wire.batch.response_bytes``, registered by ``bytes_responses``) instead of parsing those bytes
into a message for gRPC to serialize again (docs/performance.md, thirteenth pass).  These tests
hold the bytes to the plain construction - a message filled item by item, each item answered
alone - byte for byte (the ranking's once parsed: its differentials' pieces are in their own
field order), with rejected items at the first and a middle position, and over a real
gRPC server.
"""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest
from footcds.v1 import (
    common_pb2,
    differential_pb2,
    differential_pb2_grpc,
    treatment_pb2,
    treatment_pb2_grpc,
)

from services.differential import servicer as differential_servicer
from services.differential.handlers import (
    case_from_pb,
    rank_differential_batch,
    rank_differential_batch_bytes,
)
from services.knowledge.loader import knowledge_base
from services.treatment import servicer as treatment_servicer
from services.treatment.handlers import plan_treatment, plan_treatment_batch, plan_treatment_batch_bytes
from services.wire import batch
from services.wire.batch import each_item
from tests.test_batch_rows import normalized

BAD_EVIDENCE = common_pb2.Evidence(finding_id="no_such_finding", state=common_pb2.EVIDENCE_STATE_PRESENT)


def ranking_request(omit: bool, count: int) -> differential_pb2.RankDifferentialBatchRequest:
    """``count`` athletes and vignettes, the first and a middle one unknown to the knowledge base."""
    request = differential_pb2.RankDifferentialBatchRequest(omit_explanations=omit)
    for n in normalized()[:count]:
        request.items.add(patient=n.patient, evidence=n.evidence)
    for index in (0, count // 2):
        request.items[index].evidence.append(BAD_EVIDENCE)
    return request


def plain_ranking(request: differential_pb2.RankDifferentialBatchRequest) -> bytes:
    """The response as a message: each item's error from the batch's own check, each differential
    from a batch of that item alone."""
    kb = knowledge_base()
    plain = differential_pb2.RankDifferentialBatchResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    checked = dict(each_item(request.items,
                             lambda item, prefix: case_from_pb(kb, item.patient, list(item.evidence), prefix)))
    for index, item in enumerate(request.items):
        result = plain.results.add(index=index)
        outcome = checked[index]
        if isinstance(outcome, common_pb2.BatchItemError):
            result.error.CopyFrom(outcome)
        else:
            alone = differential_pb2.RankDifferentialBatchRequest(omit_explanations=request.omit_explanations)
            alone.items.append(item)
            result.differential.CopyFrom(rank_differential_batch(alone).results[0].differential)
    return plain.SerializeToString()


@pytest.mark.parametrize(("omit", "count"), [(True, 160), (False, 24)])
def test_ranking_bytes_are_the_plain_response(omit: bool, count: int) -> None:
    request = ranking_request(omit, count)
    fast = rank_differential_batch_bytes(request)
    # Parsed and written again in the wire's canonical order: a differential's cached pieces put
    # its constant fields before its probability (encoding.ranked_row_bytes), which parses the same.
    assert differential_pb2.RankDifferentialBatchResponse.FromString(fast).SerializeToString() == plain_ranking(request)
    parsed = rank_differential_batch(request)
    assert [r.WhichOneof("outcome") for r in parsed.results][:2] == ["error", "differential"]
    assert parsed.results[count // 2].error.violations[0].field.startswith(f"items[{count // 2}].")


def treatment_request() -> treatment_pb2.PlanTreatmentBatchRequest:
    """120 athletes' plans: two items without a differential (rejected by the ranking) and one
    naming an unknown condition."""
    ranked = rank_differential_batch(ranking_request(True, 120))
    request = treatment_pb2.PlanTreatmentBatchRequest()
    for n, result in zip(normalized(), ranked.results, strict=False):
        item = request.items.add(patient=n.patient)
        if result.WhichOneof("outcome") == "differential":
            item.differential.CopyFrom(result.differential)
    request.items[61].differential.conditions[3].condition_id = "no_such_condition"
    return request


def test_treatment_bytes_are_the_plain_response() -> None:
    request = treatment_request()
    kb = knowledge_base()
    plain = treatment_pb2.PlanTreatmentBatchResponse(kb_version=kb.version, disclaimer=kb.disclaimer)
    for index, item in enumerate(request.items):
        result = plain.results.add(index=index)
        alone = treatment_pb2.PlanTreatmentBatchRequest(items=[item])
        one = plan_treatment_batch(alone).results[0]
        if one.WhichOneof("outcome") == "error":
            result.error.CopyFrom(one.error)
            result.error.index = index
            for violation in result.error.violations:
                violation.field = violation.field.replace("items[0].", f"items[{index}].")
        else:
            result.plan.CopyFrom(plan_treatment(item).plan)
    assert [r.WhichOneof("outcome") for r in plain.results].count("error") == 3
    assert plan_treatment_batch_bytes(request) == plain.SerializeToString()


def test_the_servers_send_the_bytes_and_other_methods_as_before() -> None:
    """Over gRPC (the generated stubs parse as any client would): the batch answers equal the
    in-process ones; a method left out of ``bytes_responses`` still returns its message."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    differential_servicer.register(server)
    treatment_servicer.register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            ranking = differential_pb2_grpc.DifferentialServiceStub(channel)
            request = ranking_request(True, 40)
            assert ranking.RankDifferentialBatch(request, timeout=30) == rank_differential_batch(request)
            single = differential_pb2.RankDifferentialRequest(patient=request.items[1].patient,
                                                              evidence=request.items[1].evidence)
            assert ranking.RankDifferential(single, timeout=30).differential.conditions
            plans = treatment_request()
            stub = treatment_pb2_grpc.TreatmentServiceStub(channel)
            assert stub.PlanTreatmentBatch(plans, timeout=30) == plan_treatment_batch(plans)
    finally:
        server.stop(None)


def test_a_renumbered_result_field_is_refused() -> None:
    batch.check_result_tags(differential_pb2.RankDifferentialBatchResponse, "differential")
    with pytest.raises(RuntimeError, match="renumbered"):
        batch.check_result_tags(differential_pb2.RankDifferentialBatchResponse, "error")

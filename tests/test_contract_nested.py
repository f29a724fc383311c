"""Nested messages in the compiled contract check: a type without rules anywhere (codes,
citations) is skipped, a rule deep inside a differential is still enforced."""

from __future__ import annotations

import pytest
from footcds.v1 import common_pb2, workup_pb2

from services.platform import contract
from services.platform.contract_fast import message_valid
from services.platform.errors import InvalidInput


def _request() -> workup_pb2.RecommendTestsRequest:
    condition = common_pb2.ConditionScore(
        condition_id="tarsal_tunnel",
        probability=0.6,
        codes=[common_pb2.Code(system="ICD-10-CM", code="G57.50")],
        citations=[common_pb2.Citation(source_key="seed002")],
        evidence_for=[common_pb2.EvidenceWeight(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)],
    )
    request = workup_pb2.RecommendTestsRequest()
    request.differential.conditions.extend([condition, condition])
    request.differential.triage.level = common_pb2.TRIAGE_LEVEL_ROUTINE
    return request


def test_a_differential_with_codes_and_citations_is_valid() -> None:
    request = _request()
    contract.problems(request)  # registers the type
    assert message_valid(request.DESCRIPTOR.full_name, contract._plan)(request)
    contract.check(request)  # no error


def test_a_bad_state_deep_in_a_differential_is_named() -> None:
    request = _request()
    request.differential.conditions[1].evidence_for[0].state = 99  # type: ignore[assignment]
    contract.problems(_request())  # registers the type
    assert not message_valid(request.DESCRIPTOR.full_name, contract._plan)(request)
    with pytest.raises(InvalidInput) as raised:
        contract.check(request, "items[4].")
    fields = [v.field for v in raised.value.violations]
    assert fields == ["items[4].differential.conditions[1].evidence_for[0].state"]


def test_a_bad_state_in_evidence_against_of_a_dont_miss_entry_is_named() -> None:
    request = _request()
    request.differential.dont_miss.add().CopyFrom(request.differential.conditions[0])
    weight = request.differential.dont_miss[0].evidence_against.add(finding_id="loc_sole")
    weight.state = 42  # type: ignore[assignment]
    contract.problems(_request())  # registers the type
    assert not message_valid(request.DESCRIPTOR.full_name, contract._plan)(request)
    weight.state = common_pb2.EVIDENCE_STATE_ABSENT
    assert message_valid(request.DESCRIPTOR.full_name, contract._plan)(request)

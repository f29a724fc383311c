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


def _evidence_request(*entries: tuple[str, int]) -> workup_pb2.RecommendTestsRequest:
    request = _request()
    for finding_id, state in entries:
        request.evidence.add(finding_id=finding_id, state=state)
    return request


def test_a_list_checked_by_columns_still_finds_one_bad_entry_after_many_good_ones() -> None:
    """Evidence lists are checked a field at a time, remembering ids and states found valid;
    a bad id, an empty id or a missing state among remembered good ones is still refused and
    named, at its index, whatever was seen before."""
    present, absent = common_pb2.EVIDENCE_STATE_PRESENT, common_pb2.EVIDENCE_STATE_ABSENT
    good = [(f"finding_{i}", present if i % 2 else absent) for i in range(30)]
    valid = message_valid(_request().DESCRIPTOR.full_name, contract._plan)
    contract.problems(_request())
    for _ in range(3):  # the same values again: answered from what is remembered
        assert valid(_evidence_request(*good))
    for bad, where, rule in [
        (("Finding 3", present), "evidence[30].finding_id", "pattern"),  # breaks the pattern
        (("", present), "evidence[30].finding_id", "required"),  # empty: min_len 1
        (("finding_3", 0), "evidence[30].state", "required"),  # unset state: not_in [0]
        (("finding_3", 42), "evidence[30].state", "defined"),  # not a defined state
    ]:
        request = _evidence_request(*good, bad)
        assert not valid(request), bad
        assert not valid(request), bad  # a refused value is not remembered as valid
        with pytest.raises(InvalidInput) as raised:
            contract.check(request)
        assert {v.field for v in raised.value.violations} == {where}, (bad, rule)
        assert valid(_evidence_request(*good))


@pytest.mark.parametrize("where", ["evidence_for", "evidence_against"])
def test_one_bad_weight_among_many_conditions_without_weights_is_refused(where: str) -> None:
    """A roster's differentials carry 35 conditions with empty weight lists; the conditions are
    checked a list at a time (only the non-empty lists visited), and a bad weight in the last
    condition, in either list, is still refused and named."""
    request = workup_pb2.RecommendTestsRequest()
    request.differential.triage.level = common_pb2.TRIAGE_LEVEL_ROUTINE
    for i in range(35):
        request.differential.conditions.add(condition_id=f"condition_{i}", probability=1 / 35)
    contract.problems(_request())  # registers the type
    valid = message_valid(request.DESCRIPTOR.full_name, contract._plan)
    assert valid(request)
    weights = getattr(request.differential.conditions[34], where)
    weights.add(finding_id="loc_sole", state=common_pb2.EVIDENCE_STATE_PRESENT)
    assert valid(request)
    weights.add(finding_id="loc_sole").state = 99  # not a defined state
    assert not valid(request)
    with pytest.raises(InvalidInput) as raised:
        contract.check(request)
    assert [v.field for v in raised.value.violations] == [f"differential.conditions[34].{where}[1].state"]

"""The compiled yes/no (``contract_fast``) on the edges of the rules it folds together.

Enum rules (defined_only, not_in) are one set lookup, a string's min_len / max_len / pattern one
call, and fields whose rules always hold are not visited at all (issue 15: the per-item checks
of a team screening).  Each edge must get the same answer as the rule walk it short-cuts.
"""

from __future__ import annotations

from typing import cast

import pytest
from footcds.v1 import common_pb2
from google.protobuf.message import Message

from services.platform import contract
from services.platform.contract_fast import message_valid

STATE = common_pb2.EvidenceState
EDGES: list[tuple[Message, bool]] = [
    (common_pb2.Evidence(finding_id="loc_dorsum_foot", state=common_pb2.EVIDENCE_STATE_PRESENT), True),
    (common_pb2.Evidence(finding_id="loc_dorsum_foot"), False),  # state 0: not_in
    (common_pb2.Evidence(finding_id="loc_dorsum_foot", state=cast(STATE, 99)), False),  # undefined
    (common_pb2.Evidence(finding_id="", state=common_pb2.EVIDENCE_STATE_ABSENT), False),  # min_len
    (common_pb2.Evidence(finding_id="a" * 64, state=common_pb2.EVIDENCE_STATE_ABSENT), True),  # max_len
    (common_pb2.Evidence(finding_id="a" * 65, state=common_pb2.EVIDENCE_STATE_ABSENT), False),
    (common_pb2.Evidence(finding_id="Loc", state=common_pb2.EVIDENCE_STATE_ABSENT), False),  # pattern
    (common_pb2.PatientContext(), True),
    (common_pb2.PatientContext(patient_ref="r" * 129), False),  # a lone max_len
    (common_pb2.PatientContext(age_years=0), True),  # optional: present at zero, in range
    (common_pb2.PatientContext(age_years=121), False),
    (common_pb2.PatientContext(sex=cast(common_pb2.Sex, 99)), False),
    (common_pb2.PatientContext(context_flags=["not a flag"]), False),
]


@pytest.mark.parametrize(("message", "valid"), EDGES, ids=lambda v: str(v)[:40] if isinstance(v, Message) else "")
def test_the_compiled_answer_is_the_walks_on_each_edge(message: Message, valid: bool) -> None:
    contract.problems(message)  # registers the type
    name = message.DESCRIPTOR.full_name
    walked = list(contract._check(message, name, ""))
    assert message_valid(name, contract._plan)(message) is valid
    assert (walked == []) is valid

"""Patient.sex is the knowledge base's ``Sex`` Literal; a bad value is refused at intake, naming the field.

On gRPC an undefined enum number is refused by the contract (tests/test_contract.py, INVALID_ARGUMENT
with BadRequest ``patient.sex``); these check the paths that skip the gRPC edge: the in-process
runner and a Patient built in Python from a file or a dict.
"""

from __future__ import annotations

from typing import get_args

import pytest
from footcds.v1 import common_pb2

from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import SEXES, Patient, State
from services.knowledge.loader import knowledge_base
from services.knowledge.models import Sex
from services.pipeline.local import assess_local
from services.platform.errors import InvalidInput
from services.wire.convert import PB_TO_SEX, SEX_TO_PB, patient_from_pb
from tests.conftest import example_request


def test_the_literal_and_the_wire_enum_name_the_same_sexes() -> None:
    assert SEXES == get_args(Sex) == tuple(SEX_TO_PB)
    defined = {v for v in common_pb2.Sex.values() if v != common_pb2.SEX_UNSPECIFIED}
    assert set(PB_TO_SEX) == defined


def test_every_recorded_sex_round_trips_and_unspecified_is_none() -> None:
    for sex in SEXES:
        assert patient_from_pb(common_pb2.PatientContext(sex=SEX_TO_PB[sex])).sex == sex
    assert patient_from_pb(common_pb2.PatientContext()).sex is None


def test_a_patient_built_with_a_bad_sex_is_refused_naming_the_field() -> None:
    bad = Patient(age=30, sex="unknown")  # type: ignore[arg-type]  # as a dict or file could give it
    with pytest.raises(InvalidInput) as raised:
        normalize(knowledge_base(), bad, [EvidenceInput("loc_sole", State.PRESENT)])
    [violation] = raised.value.violations
    assert violation.field == "patient.sex"
    assert "female, male, other" in violation.description and "'unknown'" in violation.description


def test_the_in_process_runner_refuses_an_undefined_sex_number_instead_of_dropping_it() -> None:
    request = example_request("tight_laces_runner")
    request.patient.sex = 7  # type: ignore[assignment]  # a number the enum does not define
    with pytest.raises(InvalidInput) as raised:
        assess_local(request)
    assert [v.field for v in raised.value.violations] == ["patient.sex"]
    assert "7 is not a value of Sex" in raised.value.violations[0].description
    request.patient.sex = common_pb2.SEX_FEMALE
    assert assess_local(request).triage.level  # the same case with a defined sex is assessed

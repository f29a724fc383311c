"""Each domain service's RPCs over gRPC, against the running suite."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from footcds.v1 import (
    common_pb2,
    differential_pb2,
    differential_pb2_grpc,
    encounter_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    workup_pb2,
    workup_pb2_grpc,
)

from devtools.suite import LocalSuite
from services.platform.errors import violations_of
from tests.conftest import example_request
from tests.fhir_support import bundle_resources

pytestmark = pytest.mark.e2e
PRESENT = common_pb2.EVIDENCE_STATE_PRESENT
Stubs = tuple[
    intake_pb2_grpc.IntakeServiceStub, differential_pb2_grpc.DifferentialServiceStub, workup_pb2_grpc.WorkupServiceStub
]


def ev(*ids: str) -> list[common_pb2.Evidence]:
    return [common_pb2.Evidence(finding_id=i, state=PRESENT) for i in ids]


@pytest.fixture(scope="module")
def stubs(suite: LocalSuite) -> Iterator[Stubs]:
    channels = {name: suite.channel(name) for name in ("intake", "differential", "workup")}  # with the dev token
    yield (
        intake_pb2_grpc.IntakeServiceStub(channels["intake"]),
        differential_pb2_grpc.DifferentialServiceStub(channels["differential"]),
        workup_pb2_grpc.WorkupServiceStub(channels["workup"]),
    )
    for channel in channels.values():
        channel.close()


def test_intake_form_renders_and_exports_as_fhir_questionnaire(stubs: Stubs) -> None:
    intake, _, _ = stubs
    form = intake.GetIntakeForm(intake_pb2.GetIntakeFormRequest(audience=intake_pb2.FORM_AUDIENCE_PATIENT), timeout=5)
    assert len(form.questions) >= 10
    assert any(q.kind == "body_map" for q in form.questions)
    questionnaire = Questionnaire.model_validate(json.loads(form.fhir_questionnaire_json))
    assert questionnaire.item is not None, "the FHIR Questionnaire has no items"
    assert [i.linkId for i in questionnaire.item] == [q.question_id for q in form.questions]
    # An answer built from the form normalizes to the findings its option sets.
    question = next(q for q in form.questions if q.kind == "body_map")
    option = next(o for o in question.options if o.sets_present)
    reply = intake.NormalizeIntake(
        intake_pb2.NormalizeIntakeRequest(
            answers=[common_pb2.QuestionnaireAnswer(question_id=question.question_id, option_ids=[option.option_id])]
        ),
        timeout=5,
    )
    present = {e.finding_id for e in reply.evidence if e.state == PRESENT}
    assert set(option.sets_present) <= present


def test_contradictory_intake_is_rejected_naming_the_field(stubs: Stubs) -> None:
    intake, _, _ = stubs
    with pytest.raises(grpc.RpcError) as raised:
        intake.NormalizeIntake(intake_pb2.NormalizeIntakeRequest(evidence=ev("unilateral", "bilateral")), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_of(raised.value)] == ["evidence[1]"]


def test_intake_batch_reports_bad_items_and_keeps_good_ones(stubs: Stubs) -> None:
    intake, _, _ = stubs
    reply = intake.NormalizeIntakeBatch(
        intake_pb2.NormalizeIntakeBatchRequest(
            items=[
                intake_pb2.NormalizeIntakeRequest(evidence=ev("loc_sole")),
                intake_pb2.NormalizeIntakeRequest(evidence=ev("loc_moon")),
            ]
        ),
        timeout=5,
    )
    assert reply.results[0].WhichOneof("outcome") == "response"
    assert reply.results[1].error.violations[0].field == "items[1].evidence[0].finding_id"


def test_next_question_drives_an_interview_to_a_stop(stubs: Stubs) -> None:
    _, differential, _ = stubs
    truth = {"loc_toes_3_4_web", "loc_ball_of_foot", "sx_burning", "sx_pebble_or_lump_sensation",
             "ex_mulder_click", "ex_web_space_tenderness", "unilateral", "relieved_by_removing_shoes"}
    evidence = ev("loc_toes_3_4_web")
    for _ in range(30):
        reply = differential.NextQuestion(
            differential_pb2.NextQuestionRequest(evidence=evidence, prioritize_dont_miss=True), timeout=5
        )
        if reply.should_stop:
            break
        assert reply.question_patient and reply.finding_id not in {e.finding_id for e in evidence}
        state = PRESENT if reply.finding_id in truth else common_pb2.EVIDENCE_STATE_ABSENT
        evidence.append(common_pb2.Evidence(finding_id=reply.finding_id, state=state))
    assert reply.should_stop and reply.stop_reason
    assert reply.leader.condition_id == "mortons_neuroma"
    assert len(evidence) < 30


def test_rank_batch_matches_single_ranking(stubs: Stubs) -> None:
    _, differential, _ = stubs
    items = [differential_pb2.RankDifferentialRequest(evidence=ev(*ids)) for ids in
             (("loc_dorsum_foot", "hx_tight_lacing"), ("loc_saddle_area", "sx_bladder_bowel_dysfunction"))]
    batch = differential.RankDifferentialBatch(differential_pb2.RankDifferentialBatchRequest(items=items), timeout=5)
    for item, result in zip(items, batch.results, strict=True):
        single = differential.RankDifferential(item, timeout=5).differential
        assert [c.condition_id for c in result.differential.conditions] == [c.condition_id for c in single.conditions]
        assert result.differential.triage.level == single.triage.level


def test_submit_test_results_re_ranks_and_says_why(stubs: Stubs) -> None:
    _, differential, workup = stubs
    evidence = ev("loc_calf", "sx_cramping_calf", "relieved_by_rest", "hx_smoking", "hx_age_over_50")
    patient = common_pb2.PatientContext(age_years=66, setting=common_pb2.CLINICAL_SETTING_GENERAL_ADULT)
    before = differential.RankDifferential(
        differential_pb2.RankDifferentialRequest(patient=patient, evidence=evidence), timeout=5
    ).differential
    reply = workup.SubmitTestResults(
        workup_pb2.SubmitTestResultsRequest(
            patient=patient, evidence=evidence,
            results=[common_pb2.TestResult(test_id="ankle_brachial_index", value=1.1)],
        ),
        timeout=5,
    )
    p_before = {c.condition_id: c.probability for c in before.conditions}["peripheral_arterial_disease"]
    p_after = {c.condition_id: c.probability for c in reply.differential.conditions}["peripheral_arterial_disease"]
    assert p_after < p_before
    assert reply.summary and any(c.condition_id == "peripheral_arterial_disease" for c in reply.changes)


@pytest.mark.parametrize(
    ("result", "field"),
    [
        (common_pb2.TestResult(test_id="xray_moon", outcome=common_pb2.TEST_OUTCOME_ABNORMAL), "results[0].test_id"),
        (common_pb2.TestResult(test_id="ankle_brachial_index", value=-4.0), "results[0].value"),
    ],
    ids=["unknown-test", "impossible-value"],
)
def test_bad_test_results_are_invalid_argument(stubs: Stubs, result: common_pb2.TestResult, field: str) -> None:
    _, _, workup = stubs
    with pytest.raises(grpc.RpcError) as raised:
        workup.SubmitTestResults(workup_pb2.SubmitTestResultsRequest(evidence=ev("loc_calf"), results=[result]),
                                 timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in violations_of(raised.value)]


def test_assess_can_return_a_valid_fhir_bundle(encounter: encounter_pb2_grpc.EncounterServiceStub) -> None:
    request = example_request("mortons_neuroma")
    request.include_fhir_bundle = True
    reply = encounter.Assess(request, timeout=15)
    bundle = Bundle.model_validate(json.loads(reply.fhir_bundle_json))
    kinds = {resource.get_resource_type() for resource in bundle_resources(bundle)}
    assert {"Condition", "RiskAssessment", "ServiceRequest", "CarePlan"} <= kinds

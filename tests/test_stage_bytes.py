"""The spliced stage requests and Assessment are the very bytes of the messages they replace.

``stages.SerializedStages`` writes the work-up and treatment requests and the Assessment with the
differential serialized once (the Celery task and ``direct`` send those bytes); ``stages``
builds them as messages (``--local``).  On every clinical vignette and every other real case
of the corpus (480 cases), through the real in-process handlers, each spliced request and the
answer must equal the message's ``SerializeToString()`` byte for byte, and the services must
answer the spliced requests exactly as they answer the messages.
"""

from __future__ import annotations

from functools import cache

import pytest
from footcds.v1 import differential_pb2, encounter_pb2, intake_pb2, treatment_pb2, workup_pb2

from services.cli.casefile import case_from_json
from services.differential.handlers import rank_differential
from services.intake.handlers import normalize_intake
from services.pipeline import stages
from services.pipeline.assess import assess_serialized
from services.pipeline.local import LocalCalls, assess_local
from services.pipeline.stages import SerializedStages
from services.treatment.handlers import plan_treatment
from services.workup.handlers import recommend_tests
from tests.clinical.evaluate import load_vignettes, request_for
from tests.clinical.realcases import spent_cases


@cache
def requests() -> tuple[encounter_pb2.AssessRequest, ...]:
    vignettes = [request_for(v) for v in load_vignettes()]
    # spent cases only: the engine never runs on a locked set before its one recorded run
    corpus = spent_cases()
    real = [case_from_json(case.case_json()) for case in corpus[::2]]  # every other: a few hundred
    return (*vignettes, *real)


class BytesCalls:
    """``SerializedCalls`` in-process: the handlers get the spliced bytes parsed, as a service does."""

    def intake(self, request: intake_pb2.NormalizeIntakeRequest) -> intake_pb2.NormalizeIntakeResponse:
        return LocalCalls().intake(request)

    def differential(self, request: bytes) -> differential_pb2.RankDifferentialResponse:
        return rank_differential(differential_pb2.RankDifferentialRequest.FromString(request))

    def workup_and_treatment(
        self, workup: bytes, treatment: bytes
    ) -> tuple[workup_pb2.RecommendTestsResponse, treatment_pb2.PlanTreatmentResponse]:
        return (
            recommend_tests(workup_pb2.RecommendTestsRequest.FromString(workup)),
            plan_treatment(treatment_pb2.PlanTreatmentRequest.FromString(treatment)),
        )


def test_the_cases_cover_explained_differentials_red_flags_and_emergencies() -> None:
    assert len(requests()) > 300
    levels = {assess_local(r).triage.level for r in requests()[:120]}
    assert len(levels) >= 3  # self-care to emergency, so triage and red flags are spliced too


@pytest.mark.parametrize("chunk", range(4))
def test_every_spliced_request_and_answer_is_the_messages_bytes(chunk: int) -> None:
    cases = requests()[chunk::4]
    for request in cases:
        intake = normalize_intake(stages.intake_request(request))
        wire = SerializedStages()
        assert wire.differential_request(intake) == stages.differential_request(intake).SerializeToString()
        ranked = rank_differential(stages.differential_request(intake))
        differential = ranked.differential
        workup_message = stages.workup_request(intake, differential)
        treatment_message = stages.treatment_request(intake, differential)
        assert wire.workup_request(intake, differential) == workup_message.SerializeToString()
        assert wire.treatment_request(intake, differential) == treatment_message.SerializeToString()
        workup, plan = recommend_tests(workup_message), plan_treatment(treatment_message)
        expected = stages.assemble(intake, ranked, workup, plan)
        assert wire.assemble(intake, ranked, workup, plan) == expected.SerializeToString()
        # The whole sequence over bytes: the answer the message path gives, to the byte.
        assert assess_serialized(request, BytesCalls()) == expected.SerializeToString()


def test_a_work_up_request_without_a_differential_request_first_is_still_whole() -> None:
    """``workup_request`` serializes patient and evidence itself when nothing was cached."""
    request = requests()[0]
    intake = normalize_intake(stages.intake_request(request))
    differential = rank_differential(stages.differential_request(intake)).differential
    spliced = SerializedStages().workup_request(intake, differential)
    assert spliced == stages.workup_request(intake, differential).SerializeToString()
    assert workup_pb2.RecommendTestsRequest.FromString(spliced).differential == differential

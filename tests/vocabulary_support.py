"""What the agreed-vocabulary and knowledge-row tests (rounds 5, 9 and 10) share: a condition's
posterior for a picture of present findings, by the intake's normalization and the ranking (no
work-up or treatment, which a posterior does not need), the gRPC intake check that a round's
new ids are accepted as sent, one assessment by the CLI's in-process path summarised for rule and ranking
checks, one Assess of a picture through the running encounter service, and the wording of a round's
questions as the tablet's adaptive interview asks them."""

from __future__ import annotations

from collections.abc import Iterable

from footcds.v1 import common_pb2, differential_pb2, encounter_pb2, encounter_pb2_grpc, intake_pb2, intake_pb2_grpc

from devtools.suite import LocalSuite
from services.cli.casefile import case_from_json
from services.differential.handlers import next_question
from services.differential.ranking import rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Patient, State
from services.knowledge.loader import knowledge_base
from tests.clinical.real_eval import first_contact


def probability(condition: str, *present: str, age: int) -> float:
    """The posterior the differential lists for ``condition`` given these findings present."""
    items = [EvidenceInput(f, State.PRESENT) for f in present]
    differential = rank(normalize(knowledge_base(), Patient(age=age), items).case)
    return next(c.probability for c in differential.conditions if c.condition_id == condition)


def assess(*present: str, age: int, absent: Iterable[str] = ()) -> tuple[set[str], str, list[str], str]:
    """Rules fired, triage level, ranked conditions and first test, by the same path as the CLI."""
    evidence = [{"id": f, "state": "present"} for f in present] + [{"id": f, "state": "absent"} for f in absent]
    answer = first_contact({"patient": {"age": age}, "evidence": evidence})
    return set(answer.rules), answer.triage, answer.ranked, answer.first_test


def intake_keeps(suite: LocalSuite, finding_ids: Iterable[str]) -> set[str]:
    """The ids the running intake service returns when every one of ``finding_ids`` is sent present."""
    with suite.channel("intake") as channel:
        intake = intake_pb2_grpc.IntakeServiceStub(channel)
        evidence = [common_pb2.Evidence(finding_id=f, state=common_pb2.EVIDENCE_STATE_PRESENT) for f in finding_ids]
        reply = intake.NormalizeIntake(intake_pb2.NormalizeIntakeRequest(evidence=evidence), timeout=10)
    return {e.finding_id for e in reply.evidence}


def assess_over_grpc(suite: LocalSuite, *present: str, age: int) -> encounter_pb2.Assessment:
    """The assessment the running encounter service returns for these findings present (the whole
    pipeline over gRPC, as an EHR or a tablet would call it)."""
    request = case_from_json({"patient": {"age": age}, "evidence": [{"id": f, "state": "present"} for f in present]})
    with suite.channel("encounter") as channel:
        encounter = encounter_pb2_grpc.EncounterServiceStub(channel)
        reply: encounter_pb2.AssessResponse = encounter.Assess(request, timeout=20)
    return reply.assessment


def interview_asks(age: int, present: Iterable[str], watch: Iterable[str], limit: int = 25) -> dict[str, str]:
    """The ``watch`` questions a tablet interview asks (id -> patient wording) for a picture of ``present`` findings,
    every answer "I don't know" (a round's new ids must be asked in plain words, not only accepted)."""
    watched = set(watch)
    patient = case_from_json({"patient": {"age": age}, "evidence": []}).patient
    known = [common_pb2.Evidence(finding_id=f, state=common_pb2.EVIDENCE_STATE_PRESENT) for f in present]
    asked: list[str] = []
    wording: dict[str, str] = {}
    for _ in range(limit):
        reply = next_question(differential_pb2.NextQuestionRequest(
            patient=patient, evidence=known, prioritize_dont_miss=True, exclude_finding_ids=asked))
        if reply.should_stop or not reply.finding_id:
            break
        asked.append(reply.finding_id)
        if reply.finding_id in watched:
            wording[reply.finding_id] = reply.question_patient
    return wording

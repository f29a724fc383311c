"""The pipeline's stage messages, shared by every path that runs the four services.

Each function builds the next service's request from what earlier stages returned, so the
Celery stages, the direct path, ``--local`` and the team-screening chunks cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from footcds.v1 import (
    common_pb2,
    differential_pb2,
    encounter_pb2,
    intake_pb2,
    treatment_pb2,
    workup_pb2,
)
from google.protobuf.message import Message

from services.wire.encoding import length_delimited, message_field_tag


def intake_request(
    request: encounter_pb2.AssessRequest | encounter_pb2.RosterEntry,
) -> intake_pb2.NormalizeIntakeRequest:
    """One encounter, or one athlete of a roster: both carry patient, evidence and answers."""
    return intake_pb2.NormalizeIntakeRequest(**intake_fields(request))


def intake_fields(request: encounter_pb2.AssessRequest | encounter_pb2.RosterEntry) -> dict[str, Any]:
    """``intake_request``'s fields, for ``batch.items.add(**...)``: a batch item filled in
    place, where building the request and appending it copied every field twice."""
    return {"patient": request.patient, "evidence": request.evidence, "answers": request.answers}


def differential_request(
    intake: intake_pb2.NormalizeIntakeResponse,
) -> differential_pb2.RankDifferentialRequest:
    return differential_pb2.RankDifferentialRequest(**differential_fields(intake))


def differential_fields(intake: intake_pb2.NormalizeIntakeResponse) -> dict[str, Any]:
    return {"patient": intake.patient, "evidence": intake.evidence}


def workup_request(
    intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
) -> workup_pb2.RecommendTestsRequest:
    return workup_pb2.RecommendTestsRequest(patient=intake.patient, evidence=intake.evidence, differential=differential)


def treatment_request(
    intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
) -> treatment_pb2.PlanTreatmentRequest:
    return treatment_pb2.PlanTreatmentRequest(patient=intake.patient, differential=differential)


def assemble(
    intake: intake_pb2.NormalizeIntakeResponse,
    ranked: differential_pb2.RankDifferentialResponse,
    workup: workup_pb2.RecommendTestsResponse,
    plan: treatment_pb2.PlanTreatmentResponse,
) -> encounter_pb2.Assessment:
    """The whole answer, triage (with its red flags) first."""
    return encounter_pb2.Assessment(
        triage=ranked.differential.triage,
        differential=ranked.differential,
        **_assessment_rest(intake, ranked, workup, plan),
    )


def _assessment_rest(
    intake: intake_pb2.NormalizeIntakeResponse,
    ranked: differential_pb2.RankDifferentialResponse,
    workup: workup_pb2.RecommendTestsResponse,
    plan: treatment_pb2.PlanTreatmentResponse,
) -> dict[str, Any]:
    """The Assessment's fields but triage and the differential, written once for ``assemble``
    and ``SerializedStages.assemble`` (which splices those two in as bytes)."""
    return {
        "tests": workup.tests,
        "plan": plan.plan,
        "evidence": intake.evidence,
        "patient": intake.patient,
        "workup_note": workup.note,
        "kb_version": ranked.kb_version,
        "disclaimer": ranked.disclaimer,
    }


# --- the same requests and answer as bytes, the differential serialized once -----------------
#
# The functions above build each request as a message: the work-up and treatment requests and the
# Assessment each copy the differential (9-15 KB, most of every message after the ranking)
# and gRPC or the reply list then serializes each copy again.  Protobuf's wire format is a
# message's fields encoded one after another, and an embedded message's field is its tag,
# its length and the embedded message serialized; so a runner that sends bytes can serialize
# the differential once and splice it into all three.  Fields are written in field-number
# order, as ``SerializeToString`` writes them: the bytes are the very bytes the messages above
# serialize to (``tests/test_stage_bytes.py`` compares them on 480 vignettes and real cases),
# and the services parse the same requests.  Measured: 139-144 -> 63-65 us of the
# worker's CPU per assessment in-process (docs/performance.md, seventh pass).

# Field tags (number << 3 | 2, length-delimited) of the fields spliced here.
_TAG_PATIENT = b"\x0a"  # PlanTreatmentRequest.patient = 1
_TAG_TREATMENT_DIFFERENTIAL = b"\x12"  # PlanTreatmentRequest.differential = 2
_TAG_WORKUP_DIFFERENTIAL = b"\x1a"  # RecommendTestsRequest.differential = 3
_TAG_TRIAGE = b"\x0a"  # Assessment.triage = 1
_TAG_ITEMS = b"\x0a"  # RecommendTestsBatchRequest.items = 1, PlanTreatmentBatchRequest.items = 1
_TAG_ASSESSMENT_DIFFERENTIAL = b"\x12"  # Assessment.differential = 2


def _check_tags() -> None:
    """The tags above against the messages' descriptors, once at import: a renumbered field
    must fail loudly, not splice a differential into the wrong field."""
    expected: dict[tuple[type[Message], str], bytes] = {
        (treatment_pb2.PlanTreatmentRequest, "patient"): _TAG_PATIENT,
        (treatment_pb2.PlanTreatmentRequest, "differential"): _TAG_TREATMENT_DIFFERENTIAL,
        (workup_pb2.RecommendTestsRequest, "differential"): _TAG_WORKUP_DIFFERENTIAL,
        (encounter_pb2.Assessment, "triage"): _TAG_TRIAGE,
        (encounter_pb2.Assessment, "differential"): _TAG_ASSESSMENT_DIFFERENTIAL,
        (workup_pb2.RecommendTestsBatchRequest, "items"): _TAG_ITEMS,
        (treatment_pb2.PlanTreatmentBatchRequest, "items"): _TAG_ITEMS,
    }
    for (message, name), tag in expected.items():
        if message_field_tag(message, name) != tag:
            raise RuntimeError(f"{message.DESCRIPTOR.name}.{name} was renumbered: update stages.SerializedStages")
    # The work-up request must open with the differential request's fields (patient 1, evidence 2).
    for name in ("patient", "evidence"):
        if (workup_pb2.RecommendTestsRequest.DESCRIPTOR.fields_by_name[name].number
                != differential_pb2.RankDifferentialRequest.DESCRIPTOR.fields_by_name[name].number):
            raise RuntimeError(f"RecommendTestsRequest.{name} no longer matches RankDifferentialRequest")
    numbers = sorted(f.number for f in workup_pb2.RecommendTestsRequest.DESCRIPTOR.fields)
    if numbers[-1] != workup_pb2.RecommendTestsRequest.DESCRIPTOR.fields_by_name["differential"].number:
        raise RuntimeError("RecommendTestsRequest.differential is no longer its last field")


_check_tags()


def workup_bytes(case: bytes, differential: bytes) -> bytes:
    """A serialized ``RecommendTestsRequest``: ``case`` is a serialized ``RankDifferentialRequest``
    with patient and evidence only (the work-up request's opening fields), ``differential`` a
    serialized ``Differential``."""
    return case + length_delimited(_TAG_WORKUP_DIFFERENTIAL, differential)


def treatment_bytes(patient: bytes, differential: bytes) -> bytes:
    """A serialized ``PlanTreatmentRequest`` from a serialized patient and differential."""
    return length_delimited(_TAG_PATIENT, patient) + length_delimited(_TAG_TREATMENT_DIFFERENTIAL, differential)


def batch_bytes(items: list[bytes]) -> bytes:
    """A serialized ``RecommendTestsBatchRequest`` or ``PlanTreatmentBatchRequest`` (``items`` = 1)
    from its serialized items, in order."""
    return b"".join([length_delimited(_TAG_ITEMS, item) for item in items])


class SerializedStages:
    """``stages``' requests and answer for one assessment, as bytes (one instance per
    assessment: it keeps the patient-and-evidence and differential bytes it made)."""

    __slots__ = ("_case", "_differential", "_differential_bytes")

    def __init__(self) -> None:
        self._case = b""  # patient + evidence, as the differential request serializes them
        self._differential: common_pb2.Differential | None = None
        self._differential_bytes = b""

    def _serialized(self, differential: common_pb2.Differential) -> bytes:
        if differential is not self._differential:
            self._differential = differential
            self._differential_bytes = differential.SerializeToString()
        return self._differential_bytes

    def differential_request(self, intake: intake_pb2.NormalizeIntakeResponse) -> bytes:
        """``stages.differential_request`` serialized, and kept: its bytes (patient 1, evidence 2)
        are the opening of the work-up request too, so ``workup_request`` reuses them instead of
        serializing patient and evidence again (~6 us per assessment measured in-process)."""
        self._case = differential_request(intake).SerializeToString()
        return self._case

    def workup_request(
        self, intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
    ) -> bytes:
        """``stages.workup_request`` as bytes: the differential request's bytes, then the
        differential (the request's last field) serialized once for all three messages.  When no
        differential request was made first, patient and evidence are serialized here."""
        case = self._case or differential_request(intake).SerializeToString()
        return workup_bytes(case, self._serialized(differential))

    def treatment_request(
        self, intake: intake_pb2.NormalizeIntakeResponse, differential: common_pb2.Differential
    ) -> bytes:
        """``stages.treatment_request`` as bytes: the patient, then the differential's bytes
        already made for the work-up request, not a second copy and serialization of it."""
        return treatment_bytes(intake.patient.SerializeToString(), self._serialized(differential))

    def assemble(
        self,
        intake: intake_pb2.NormalizeIntakeResponse,
        ranked: differential_pb2.RankDifferentialResponse,
        workup: workup_pb2.RecommendTestsResponse,
        plan: treatment_pb2.PlanTreatmentResponse,
    ) -> bytes:
        """``stages.assemble(...).SerializeToString()``: triage, the differential, then the rest."""
        differential = ranked.differential
        rest = encounter_pb2.Assessment(**_assessment_rest(intake, ranked, workup, plan)).SerializeToString()
        return (length_delimited(_TAG_TRIAGE, differential.triage.SerializeToString())
                + length_delimited(_TAG_ASSESSMENT_DIFFERENTIAL, self._serialized(differential)) + rest)

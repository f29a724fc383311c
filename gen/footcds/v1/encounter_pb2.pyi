from buf.validate import validate_pb2 as _validate_pb2
from footcds.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScreeningState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCREENING_STATE_UNSPECIFIED: _ClassVar[ScreeningState]
    SCREENING_STATE_QUEUED: _ClassVar[ScreeningState]
    SCREENING_STATE_RUNNING: _ClassVar[ScreeningState]
    SCREENING_STATE_DONE: _ClassVar[ScreeningState]
    SCREENING_STATE_FAILED: _ClassVar[ScreeningState]

class AthleteStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATHLETE_STATUS_UNSPECIFIED: _ClassVar[AthleteStatus]
    ATHLETE_STATUS_SCREENED: _ClassVar[AthleteStatus]
    ATHLETE_STATUS_REJECTED: _ClassVar[AthleteStatus]
SCREENING_STATE_UNSPECIFIED: ScreeningState
SCREENING_STATE_QUEUED: ScreeningState
SCREENING_STATE_RUNNING: ScreeningState
SCREENING_STATE_DONE: ScreeningState
SCREENING_STATE_FAILED: ScreeningState
ATHLETE_STATUS_UNSPECIFIED: AthleteStatus
ATHLETE_STATUS_SCREENED: AthleteStatus
ATHLETE_STATUS_REJECTED: AthleteStatus

class AssessRequest(_message.Message):
    __slots__ = ("patient", "evidence", "answers", "include_fhir_bundle")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FHIR_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    answers: _containers.RepeatedCompositeFieldContainer[_common_pb2.QuestionnaireAnswer]
    include_fhir_bundle: bool
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., answers: _Optional[_Iterable[_Union[_common_pb2.QuestionnaireAnswer, _Mapping]]] = ..., include_fhir_bundle: _Optional[bool] = ...) -> None: ...

class Assessment(_message.Message):
    __slots__ = ("triage", "differential", "tests", "plan", "evidence", "patient", "workup_note", "kb_version", "disclaimer")
    TRIAGE_FIELD_NUMBER: _ClassVar[int]
    DIFFERENTIAL_FIELD_NUMBER: _ClassVar[int]
    TESTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    WORKUP_NOTE_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    triage: _common_pb2.Triage
    differential: _common_pb2.Differential
    tests: _containers.RepeatedCompositeFieldContainer[_common_pb2.TestRecommendation]
    plan: _common_pb2.TreatmentPlan
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    patient: _common_pb2.PatientContext
    workup_note: str
    kb_version: str
    disclaimer: str
    def __init__(self, triage: _Optional[_Union[_common_pb2.Triage, _Mapping]] = ..., differential: _Optional[_Union[_common_pb2.Differential, _Mapping]] = ..., tests: _Optional[_Iterable[_Union[_common_pb2.TestRecommendation, _Mapping]]] = ..., plan: _Optional[_Union[_common_pb2.TreatmentPlan, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., workup_note: _Optional[str] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class AssessResponse(_message.Message):
    __slots__ = ("assessment", "fhir_bundle_json", "kb_version", "disclaimer")
    ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    FHIR_BUNDLE_JSON_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    assessment: Assessment
    fhir_bundle_json: str
    kb_version: str
    disclaimer: str
    def __init__(self, assessment: _Optional[_Union[Assessment, _Mapping]] = ..., fhir_bundle_json: _Optional[str] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class RosterEntry(_message.Message):
    __slots__ = ("athlete_ref", "row_number", "patient", "evidence", "answers")
    ATHLETE_REF_FIELD_NUMBER: _ClassVar[int]
    ROW_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    athlete_ref: str
    row_number: int
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    answers: _containers.RepeatedCompositeFieldContainer[_common_pb2.QuestionnaireAnswer]
    def __init__(self, athlete_ref: _Optional[str] = ..., row_number: _Optional[int] = ..., patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., answers: _Optional[_Iterable[_Union[_common_pb2.QuestionnaireAnswer, _Mapping]]] = ...) -> None: ...

class SubmitScreeningRequest(_message.Message):
    __slots__ = ("idempotency_key", "athletes", "team_label")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ATHLETES_FIELD_NUMBER: _ClassVar[int]
    TEAM_LABEL_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    athletes: _containers.RepeatedCompositeFieldContainer[RosterEntry]
    team_label: str
    def __init__(self, idempotency_key: _Optional[str] = ..., athletes: _Optional[_Iterable[_Union[RosterEntry, _Mapping]]] = ..., team_label: _Optional[str] = ...) -> None: ...

class SubmitScreeningResponse(_message.Message):
    __slots__ = ("screening_id", "total", "duplicate", "kb_version", "disclaimer")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    total: int
    duplicate: bool
    kb_version: str
    disclaimer: str
    def __init__(self, screening_id: _Optional[str] = ..., total: _Optional[int] = ..., duplicate: _Optional[bool] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class TriageCount(_message.Message):
    __slots__ = ("level", "count")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    level: _common_pb2.TriageLevel
    count: int
    def __init__(self, level: _Optional[_Union[_common_pb2.TriageLevel, str]] = ..., count: _Optional[int] = ...) -> None: ...

class WatchScreeningRequest(_message.Message):
    __slots__ = ("screening_id",)
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    def __init__(self, screening_id: _Optional[str] = ...) -> None: ...

class WatchScreeningResponse(_message.Message):
    __slots__ = ("state", "done", "total", "by_triage", "rejected", "message", "kb_version", "disclaimer")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_TRIAGE_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    state: ScreeningState
    done: int
    total: int
    by_triage: _containers.RepeatedCompositeFieldContainer[TriageCount]
    rejected: int
    message: str
    kb_version: str
    disclaimer: str
    def __init__(self, state: _Optional[_Union[ScreeningState, str]] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., by_triage: _Optional[_Iterable[_Union[TriageCount, _Mapping]]] = ..., rejected: _Optional[int] = ..., message: _Optional[str] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class GetScreeningResultsRequest(_message.Message):
    __slots__ = ("screening_id", "results_per_message")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    results_per_message: int
    def __init__(self, screening_id: _Optional[str] = ..., results_per_message: _Optional[int] = ...) -> None: ...

class AthleteResult(_message.Message):
    __slots__ = ("athlete_ref", "row_number", "status", "violations", "triage", "triage_reasons", "top_conditions", "first_test_id", "plan_highlights")
    ATHLETE_REF_FIELD_NUMBER: _ClassVar[int]
    ROW_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    TRIAGE_FIELD_NUMBER: _ClassVar[int]
    TRIAGE_REASONS_FIELD_NUMBER: _ClassVar[int]
    TOP_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TEST_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_HIGHLIGHTS_FIELD_NUMBER: _ClassVar[int]
    athlete_ref: str
    row_number: int
    status: AthleteStatus
    violations: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldViolation]
    triage: _common_pb2.TriageLevel
    triage_reasons: _containers.RepeatedScalarFieldContainer[str]
    top_conditions: _containers.RepeatedCompositeFieldContainer[_common_pb2.ConditionScore]
    first_test_id: str
    plan_highlights: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, athlete_ref: _Optional[str] = ..., row_number: _Optional[int] = ..., status: _Optional[_Union[AthleteStatus, str]] = ..., violations: _Optional[_Iterable[_Union[_common_pb2.FieldViolation, _Mapping]]] = ..., triage: _Optional[_Union[_common_pb2.TriageLevel, str]] = ..., triage_reasons: _Optional[_Iterable[str]] = ..., top_conditions: _Optional[_Iterable[_Union[_common_pb2.ConditionScore, _Mapping]]] = ..., first_test_id: _Optional[str] = ..., plan_highlights: _Optional[_Iterable[str]] = ...) -> None: ...

class GetScreeningResultsResponse(_message.Message):
    __slots__ = ("result", "results", "kb_version", "disclaimer")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    result: AthleteResult
    results: _containers.RepeatedCompositeFieldContainer[AthleteResult]
    kb_version: str
    disclaimer: str
    def __init__(self, result: _Optional[_Union[AthleteResult, _Mapping]] = ..., results: _Optional[_Iterable[_Union[AthleteResult, _Mapping]]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class GetScreeningSummaryRequest(_message.Message):
    __slots__ = ("screening_id",)
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    def __init__(self, screening_id: _Optional[str] = ...) -> None: ...

class ConditionCount(_message.Message):
    __slots__ = ("condition_id", "label", "count")
    CONDITION_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    condition_id: str
    label: str
    count: int
    def __init__(self, condition_id: _Optional[str] = ..., label: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class FollowUp(_message.Message):
    __slots__ = ("athlete_ref", "row_number", "triage", "leading_condition_id", "reason")
    ATHLETE_REF_FIELD_NUMBER: _ClassVar[int]
    ROW_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRIAGE_FIELD_NUMBER: _ClassVar[int]
    LEADING_CONDITION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    athlete_ref: str
    row_number: int
    triage: _common_pb2.TriageLevel
    leading_condition_id: str
    reason: str
    def __init__(self, athlete_ref: _Optional[str] = ..., row_number: _Optional[int] = ..., triage: _Optional[_Union[_common_pb2.TriageLevel, str]] = ..., leading_condition_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TeamSummary(_message.Message):
    __slots__ = ("state", "total", "screened", "rejected", "by_triage", "top_conditions", "follow_up", "team_advice", "team_label")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SCREENED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    BY_TRIAGE_FIELD_NUMBER: _ClassVar[int]
    TOP_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_FIELD_NUMBER: _ClassVar[int]
    TEAM_ADVICE_FIELD_NUMBER: _ClassVar[int]
    TEAM_LABEL_FIELD_NUMBER: _ClassVar[int]
    state: ScreeningState
    total: int
    screened: int
    rejected: int
    by_triage: _containers.RepeatedCompositeFieldContainer[TriageCount]
    top_conditions: _containers.RepeatedCompositeFieldContainer[ConditionCount]
    follow_up: _containers.RepeatedCompositeFieldContainer[FollowUp]
    team_advice: _containers.RepeatedScalarFieldContainer[str]
    team_label: str
    def __init__(self, state: _Optional[_Union[ScreeningState, str]] = ..., total: _Optional[int] = ..., screened: _Optional[int] = ..., rejected: _Optional[int] = ..., by_triage: _Optional[_Iterable[_Union[TriageCount, _Mapping]]] = ..., top_conditions: _Optional[_Iterable[_Union[ConditionCount, _Mapping]]] = ..., follow_up: _Optional[_Iterable[_Union[FollowUp, _Mapping]]] = ..., team_advice: _Optional[_Iterable[str]] = ..., team_label: _Optional[str] = ...) -> None: ...

class GetScreeningSummaryResponse(_message.Message):
    __slots__ = ("summary", "kb_version", "disclaimer")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    summary: TeamSummary
    kb_version: str
    disclaimer: str
    def __init__(self, summary: _Optional[_Union[TeamSummary, _Mapping]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

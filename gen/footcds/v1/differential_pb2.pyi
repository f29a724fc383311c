from buf.validate import validate_pb2 as _validate_pb2
from footcds.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RankDifferentialRequest(_message.Message):
    __slots__ = ("patient", "evidence")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ...) -> None: ...

class RankDifferentialResponse(_message.Message):
    __slots__ = ("differential", "kb_version", "disclaimer")
    DIFFERENTIAL_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    differential: _common_pb2.Differential
    kb_version: str
    disclaimer: str
    def __init__(self, differential: _Optional[_Union[_common_pb2.Differential, _Mapping]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class RankDifferentialBatchRequest(_message.Message):
    __slots__ = ("items", "omit_explanations")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    OMIT_EXPLANATIONS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RankDifferentialRequest]
    omit_explanations: bool
    def __init__(self, items: _Optional[_Iterable[_Union[RankDifferentialRequest, _Mapping]]] = ..., omit_explanations: _Optional[bool] = ...) -> None: ...

class RankDifferentialBatchResult(_message.Message):
    __slots__ = ("index", "differential", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DIFFERENTIAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    differential: _common_pb2.Differential
    error: _common_pb2.BatchItemError
    def __init__(self, index: _Optional[int] = ..., differential: _Optional[_Union[_common_pb2.Differential, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.BatchItemError, _Mapping]] = ...) -> None: ...

class RankDifferentialBatchResponse(_message.Message):
    __slots__ = ("results", "kb_version", "disclaimer")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RankDifferentialBatchResult]
    kb_version: str
    disclaimer: str
    def __init__(self, results: _Optional[_Iterable[_Union[RankDifferentialBatchResult, _Mapping]]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class NextQuestionRequest(_message.Message):
    __slots__ = ("patient", "evidence", "prioritize_dont_miss", "exclude_finding_ids")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    PRIORITIZE_DONT_MISS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FINDING_IDS_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    prioritize_dont_miss: bool
    exclude_finding_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., prioritize_dont_miss: _Optional[bool] = ..., exclude_finding_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class NextQuestionResponse(_message.Message):
    __slots__ = ("finding_id", "question_patient", "question_clinician", "expected_information_gain", "should_stop", "stop_reason", "leader", "kb_version", "disclaimer")
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_PATIENT_FIELD_NUMBER: _ClassVar[int]
    QUESTION_CLINICIAN_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_INFORMATION_GAIN_FIELD_NUMBER: _ClassVar[int]
    SHOULD_STOP_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    finding_id: str
    question_patient: str
    question_clinician: str
    expected_information_gain: float
    should_stop: bool
    stop_reason: str
    leader: _common_pb2.ConditionScore
    kb_version: str
    disclaimer: str
    def __init__(self, finding_id: _Optional[str] = ..., question_patient: _Optional[str] = ..., question_clinician: _Optional[str] = ..., expected_information_gain: _Optional[float] = ..., should_stop: _Optional[bool] = ..., stop_reason: _Optional[str] = ..., leader: _Optional[_Union[_common_pb2.ConditionScore, _Mapping]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

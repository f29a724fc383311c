from buf.validate import validate_pb2 as _validate_pb2
from footcds.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecommendTestsRequest(_message.Message):
    __slots__ = ("patient", "evidence", "differential")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DIFFERENTIAL_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    differential: _common_pb2.Differential
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., differential: _Optional[_Union[_common_pb2.Differential, _Mapping]] = ...) -> None: ...

class RecommendTestsResponse(_message.Message):
    __slots__ = ("tests", "note", "kb_version", "disclaimer")
    TESTS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    tests: _containers.RepeatedCompositeFieldContainer[_common_pb2.TestRecommendation]
    note: str
    kb_version: str
    disclaimer: str
    def __init__(self, tests: _Optional[_Iterable[_Union[_common_pb2.TestRecommendation, _Mapping]]] = ..., note: _Optional[str] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class RecommendTestsBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RecommendTestsRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[RecommendTestsRequest, _Mapping]]] = ...) -> None: ...

class RecommendTestsBatchResult(_message.Message):
    __slots__ = ("index", "response", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    response: RecommendTestsResponse
    error: _common_pb2.BatchItemError
    def __init__(self, index: _Optional[int] = ..., response: _Optional[_Union[RecommendTestsResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.BatchItemError, _Mapping]] = ...) -> None: ...

class RecommendTestsBatchResponse(_message.Message):
    __slots__ = ("results", "kb_version", "disclaimer")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RecommendTestsBatchResult]
    kb_version: str
    disclaimer: str
    def __init__(self, results: _Optional[_Iterable[_Union[RecommendTestsBatchResult, _Mapping]]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class SubmitTestResultsRequest(_message.Message):
    __slots__ = ("patient", "evidence", "results")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.TestResult]
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., results: _Optional[_Iterable[_Union[_common_pb2.TestResult, _Mapping]]] = ...) -> None: ...

class ProbabilityChange(_message.Message):
    __slots__ = ("condition_id", "before", "after", "explanation")
    CONDITION_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    condition_id: str
    before: float
    after: float
    explanation: str
    def __init__(self, condition_id: _Optional[str] = ..., before: _Optional[float] = ..., after: _Optional[float] = ..., explanation: _Optional[str] = ...) -> None: ...

class SubmitTestResultsResponse(_message.Message):
    __slots__ = ("differential", "next_tests", "changes", "summary", "kb_version", "disclaimer")
    DIFFERENTIAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_TESTS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    differential: _common_pb2.Differential
    next_tests: _containers.RepeatedCompositeFieldContainer[_common_pb2.TestRecommendation]
    changes: _containers.RepeatedCompositeFieldContainer[ProbabilityChange]
    summary: str
    kb_version: str
    disclaimer: str
    def __init__(self, differential: _Optional[_Union[_common_pb2.Differential, _Mapping]] = ..., next_tests: _Optional[_Iterable[_Union[_common_pb2.TestRecommendation, _Mapping]]] = ..., changes: _Optional[_Iterable[_Union[ProbabilityChange, _Mapping]]] = ..., summary: _Optional[str] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

from buf.validate import validate_pb2 as _validate_pb2
from footcds.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanTreatmentRequest(_message.Message):
    __slots__ = ("patient", "differential")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENTIAL_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    differential: _common_pb2.Differential
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., differential: _Optional[_Union[_common_pb2.Differential, _Mapping]] = ...) -> None: ...

class PlanTreatmentResponse(_message.Message):
    __slots__ = ("plan", "kb_version", "disclaimer")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    plan: _common_pb2.TreatmentPlan
    kb_version: str
    disclaimer: str
    def __init__(self, plan: _Optional[_Union[_common_pb2.TreatmentPlan, _Mapping]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class PlanTreatmentBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[PlanTreatmentRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[PlanTreatmentRequest, _Mapping]]] = ...) -> None: ...

class PlanTreatmentBatchResult(_message.Message):
    __slots__ = ("index", "plan", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    plan: _common_pb2.TreatmentPlan
    error: _common_pb2.BatchItemError
    def __init__(self, index: _Optional[int] = ..., plan: _Optional[_Union[_common_pb2.TreatmentPlan, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.BatchItemError, _Mapping]] = ...) -> None: ...

class PlanTreatmentBatchResponse(_message.Message):
    __slots__ = ("results", "kb_version", "disclaimer")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PlanTreatmentBatchResult]
    kb_version: str
    disclaimer: str
    def __init__(self, results: _Optional[_Iterable[_Union[PlanTreatmentBatchResult, _Mapping]]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

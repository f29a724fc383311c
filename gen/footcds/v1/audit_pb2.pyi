import datetime

from buf.validate import validate_pb2 as _validate_pb2
from footcds.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListAuditRecordsRequest(_message.Message):
    __slots__ = ("since", "limit", "client_id")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    limit: int
    client_id: str
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., client_id: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("record_id", "time", "client_id", "auth", "rpc", "code", "request_sha256", "patient_ref_sha256", "answered_kb_version", "triage", "leading_conditions", "screening_id", "count")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    RPC_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_SHA256_FIELD_NUMBER: _ClassVar[int]
    PATIENT_REF_SHA256_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRIAGE_FIELD_NUMBER: _ClassVar[int]
    LEADING_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    time: _timestamp_pb2.Timestamp
    client_id: str
    auth: str
    rpc: str
    code: str
    request_sha256: str
    patient_ref_sha256: str
    answered_kb_version: str
    triage: _common_pb2.TriageLevel
    leading_conditions: _containers.RepeatedScalarFieldContainer[str]
    screening_id: str
    count: int
    def __init__(self, record_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_id: _Optional[str] = ..., auth: _Optional[str] = ..., rpc: _Optional[str] = ..., code: _Optional[str] = ..., request_sha256: _Optional[str] = ..., patient_ref_sha256: _Optional[str] = ..., answered_kb_version: _Optional[str] = ..., triage: _Optional[_Union[_common_pb2.TriageLevel, str]] = ..., leading_conditions: _Optional[_Iterable[str]] = ..., screening_id: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ListAuditRecordsResponse(_message.Message):
    __slots__ = ("records", "truncated", "kb_version", "disclaimer")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    truncated: bool
    kb_version: str
    disclaimer: str
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., truncated: _Optional[bool] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

from buf.validate import validate_pb2 as _validate_pb2
from footcds.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FormAudience(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORM_AUDIENCE_UNSPECIFIED: _ClassVar[FormAudience]
    FORM_AUDIENCE_PATIENT: _ClassVar[FormAudience]
    FORM_AUDIENCE_CLINICIAN: _ClassVar[FormAudience]
FORM_AUDIENCE_UNSPECIFIED: FormAudience
FORM_AUDIENCE_PATIENT: FormAudience
FORM_AUDIENCE_CLINICIAN: FormAudience

class NormalizeIntakeRequest(_message.Message):
    __slots__ = ("patient", "evidence", "answers")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    patient: _common_pb2.PatientContext
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    answers: _containers.RepeatedCompositeFieldContainer[_common_pb2.QuestionnaireAnswer]
    def __init__(self, patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., answers: _Optional[_Iterable[_Union[_common_pb2.QuestionnaireAnswer, _Mapping]]] = ...) -> None: ...

class NormalizeIntakeResponse(_message.Message):
    __slots__ = ("evidence", "red_flags", "patient", "kb_version", "disclaimer")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    RED_FLAGS_FIELD_NUMBER: _ClassVar[int]
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    evidence: _containers.RepeatedCompositeFieldContainer[_common_pb2.Evidence]
    red_flags: _containers.RepeatedCompositeFieldContainer[_common_pb2.RedFlag]
    patient: _common_pb2.PatientContext
    kb_version: str
    disclaimer: str
    def __init__(self, evidence: _Optional[_Iterable[_Union[_common_pb2.Evidence, _Mapping]]] = ..., red_flags: _Optional[_Iterable[_Union[_common_pb2.RedFlag, _Mapping]]] = ..., patient: _Optional[_Union[_common_pb2.PatientContext, _Mapping]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class NormalizeIntakeBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[NormalizeIntakeRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[NormalizeIntakeRequest, _Mapping]]] = ...) -> None: ...

class NormalizeIntakeBatchResult(_message.Message):
    __slots__ = ("index", "response", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    response: NormalizeIntakeResponse
    error: _common_pb2.BatchItemError
    def __init__(self, index: _Optional[int] = ..., response: _Optional[_Union[NormalizeIntakeResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.BatchItemError, _Mapping]] = ...) -> None: ...

class NormalizeIntakeBatchResponse(_message.Message):
    __slots__ = ("results", "kb_version", "disclaimer")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[NormalizeIntakeBatchResult]
    kb_version: str
    disclaimer: str
    def __init__(self, results: _Optional[_Iterable[_Union[NormalizeIntakeBatchResult, _Mapping]]] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

class GetIntakeFormRequest(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: FormAudience
    def __init__(self, audience: _Optional[_Union[FormAudience, str]] = ...) -> None: ...

class FormOption(_message.Message):
    __slots__ = ("option_id", "label", "sets_present", "sets_absent")
    OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SETS_PRESENT_FIELD_NUMBER: _ClassVar[int]
    SETS_ABSENT_FIELD_NUMBER: _ClassVar[int]
    option_id: str
    label: str
    sets_present: _containers.RepeatedScalarFieldContainer[str]
    sets_absent: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, option_id: _Optional[str] = ..., label: _Optional[str] = ..., sets_present: _Optional[_Iterable[str]] = ..., sets_absent: _Optional[_Iterable[str]] = ...) -> None: ...

class FormQuestion(_message.Message):
    __slots__ = ("question_id", "text", "kind", "options")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    text: str
    kind: str
    options: _containers.RepeatedCompositeFieldContainer[FormOption]
    def __init__(self, question_id: _Optional[str] = ..., text: _Optional[str] = ..., kind: _Optional[str] = ..., options: _Optional[_Iterable[_Union[FormOption, _Mapping]]] = ...) -> None: ...

class GetIntakeFormResponse(_message.Message):
    __slots__ = ("questions", "fhir_questionnaire_json", "kb_version", "disclaimer")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    FHIR_QUESTIONNAIRE_JSON_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCLAIMER_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[FormQuestion]
    fhir_questionnaire_json: str
    kb_version: str
    disclaimer: str
    def __init__(self, questions: _Optional[_Iterable[_Union[FormQuestion, _Mapping]]] = ..., fhir_questionnaire_json: _Optional[str] = ..., kb_version: _Optional[str] = ..., disclaimer: _Optional[str] = ...) -> None: ...

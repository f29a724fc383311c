from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvidenceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVIDENCE_STATE_UNSPECIFIED: _ClassVar[EvidenceState]
    EVIDENCE_STATE_PRESENT: _ClassVar[EvidenceState]
    EVIDENCE_STATE_ABSENT: _ClassVar[EvidenceState]
    EVIDENCE_STATE_UNKNOWN: _ClassVar[EvidenceState]

class Sex(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEX_UNSPECIFIED: _ClassVar[Sex]
    SEX_FEMALE: _ClassVar[Sex]
    SEX_MALE: _ClassVar[Sex]
    SEX_OTHER: _ClassVar[Sex]

class ClinicalSetting(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLINICAL_SETTING_UNSPECIFIED: _ClassVar[ClinicalSetting]
    CLINICAL_SETTING_SPORTS_MEDICINE: _ClassVar[ClinicalSetting]
    CLINICAL_SETTING_GENERAL_ADULT: _ClassVar[ClinicalSetting]

class TriageLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIAGE_LEVEL_UNSPECIFIED: _ClassVar[TriageLevel]
    TRIAGE_LEVEL_EMERGENCY: _ClassVar[TriageLevel]
    TRIAGE_LEVEL_URGENT: _ClassVar[TriageLevel]
    TRIAGE_LEVEL_ROUTINE: _ClassVar[TriageLevel]
    TRIAGE_LEVEL_SELF_CARE: _ClassVar[TriageLevel]

class TestTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEST_TIER_UNSPECIFIED: _ClassVar[TestTier]
    TEST_TIER_IMMEDIATE: _ClassVar[TestTier]
    TEST_TIER_FIRST_LINE: _ClassVar[TestTier]
    TEST_TIER_IF_UNCLEAR: _ClassVar[TestTier]

class TestOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEST_OUTCOME_UNSPECIFIED: _ClassVar[TestOutcome]
    TEST_OUTCOME_NORMAL: _ClassVar[TestOutcome]
    TEST_OUTCOME_ABNORMAL: _ClassVar[TestOutcome]

class PlanStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_STAGE_UNSPECIFIED: _ClassVar[PlanStage]
    PLAN_STAGE_NOW: _ClassVar[PlanStage]
    PLAN_STAGE_NEXT_2_6_WEEKS: _ClassVar[PlanStage]
    PLAN_STAGE_ESCALATION: _ClassVar[PlanStage]
EVIDENCE_STATE_UNSPECIFIED: EvidenceState
EVIDENCE_STATE_PRESENT: EvidenceState
EVIDENCE_STATE_ABSENT: EvidenceState
EVIDENCE_STATE_UNKNOWN: EvidenceState
SEX_UNSPECIFIED: Sex
SEX_FEMALE: Sex
SEX_MALE: Sex
SEX_OTHER: Sex
CLINICAL_SETTING_UNSPECIFIED: ClinicalSetting
CLINICAL_SETTING_SPORTS_MEDICINE: ClinicalSetting
CLINICAL_SETTING_GENERAL_ADULT: ClinicalSetting
TRIAGE_LEVEL_UNSPECIFIED: TriageLevel
TRIAGE_LEVEL_EMERGENCY: TriageLevel
TRIAGE_LEVEL_URGENT: TriageLevel
TRIAGE_LEVEL_ROUTINE: TriageLevel
TRIAGE_LEVEL_SELF_CARE: TriageLevel
TEST_TIER_UNSPECIFIED: TestTier
TEST_TIER_IMMEDIATE: TestTier
TEST_TIER_FIRST_LINE: TestTier
TEST_TIER_IF_UNCLEAR: TestTier
TEST_OUTCOME_UNSPECIFIED: TestOutcome
TEST_OUTCOME_NORMAL: TestOutcome
TEST_OUTCOME_ABNORMAL: TestOutcome
PLAN_STAGE_UNSPECIFIED: PlanStage
PLAN_STAGE_NOW: PlanStage
PLAN_STAGE_NEXT_2_6_WEEKS: PlanStage
PLAN_STAGE_ESCALATION: PlanStage

class PatientContext(_message.Message):
    __slots__ = ("patient_ref", "age_years", "sex", "activity", "setting", "context_flags", "days_to_competition")
    PATIENT_REF_FIELD_NUMBER: _ClassVar[int]
    AGE_YEARS_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FLAGS_FIELD_NUMBER: _ClassVar[int]
    DAYS_TO_COMPETITION_FIELD_NUMBER: _ClassVar[int]
    patient_ref: str
    age_years: int
    sex: Sex
    activity: str
    setting: ClinicalSetting
    context_flags: _containers.RepeatedScalarFieldContainer[str]
    days_to_competition: int
    def __init__(self, patient_ref: _Optional[str] = ..., age_years: _Optional[int] = ..., sex: _Optional[_Union[Sex, str]] = ..., activity: _Optional[str] = ..., setting: _Optional[_Union[ClinicalSetting, str]] = ..., context_flags: _Optional[_Iterable[str]] = ..., days_to_competition: _Optional[int] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("finding_id", "state")
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    finding_id: str
    state: EvidenceState
    def __init__(self, finding_id: _Optional[str] = ..., state: _Optional[_Union[EvidenceState, str]] = ...) -> None: ...

class QuestionnaireAnswer(_message.Message):
    __slots__ = ("question_id", "option_ids")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, question_id: _Optional[str] = ..., option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Code(_message.Message):
    __slots__ = ("system", "code", "display")
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    system: str
    code: str
    display: str
    def __init__(self, system: _Optional[str] = ..., code: _Optional[str] = ..., display: _Optional[str] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("source_key", "title", "estimate")
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    source_key: str
    title: str
    estimate: bool
    def __init__(self, source_key: _Optional[str] = ..., title: _Optional[str] = ..., estimate: _Optional[bool] = ...) -> None: ...

class RedFlag(_message.Message):
    __slots__ = ("rule_id", "description", "finding_ids", "level", "suspect_condition_ids")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FINDING_IDS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SUSPECT_CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    description: str
    finding_ids: _containers.RepeatedScalarFieldContainer[str]
    level: TriageLevel
    suspect_condition_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rule_id: _Optional[str] = ..., description: _Optional[str] = ..., finding_ids: _Optional[_Iterable[str]] = ..., level: _Optional[_Union[TriageLevel, str]] = ..., suspect_condition_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Triage(_message.Message):
    __slots__ = ("level", "reasons", "red_flags", "advice")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    RED_FLAGS_FIELD_NUMBER: _ClassVar[int]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    level: TriageLevel
    reasons: _containers.RepeatedScalarFieldContainer[str]
    red_flags: _containers.RepeatedCompositeFieldContainer[RedFlag]
    advice: str
    def __init__(self, level: _Optional[_Union[TriageLevel, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., red_flags: _Optional[_Iterable[_Union[RedFlag, _Mapping]]] = ..., advice: _Optional[str] = ...) -> None: ...

class EvidenceWeight(_message.Message):
    __slots__ = ("finding_id", "label", "state", "log_likelihood_ratio")
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LOG_LIKELIHOOD_RATIO_FIELD_NUMBER: _ClassVar[int]
    finding_id: str
    label: str
    state: EvidenceState
    log_likelihood_ratio: float
    def __init__(self, finding_id: _Optional[str] = ..., label: _Optional[str] = ..., state: _Optional[_Union[EvidenceState, str]] = ..., log_likelihood_ratio: _Optional[float] = ...) -> None: ...

class ConditionScore(_message.Message):
    __slots__ = ("condition_id", "label", "probability", "codes", "emergency", "dont_miss", "evidence_for", "evidence_against", "decisive_finding_ids", "unlikely", "specialist", "citations")
    CONDITION_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    EMERGENCY_FIELD_NUMBER: _ClassVar[int]
    DONT_MISS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FOR_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_AGAINST_FIELD_NUMBER: _ClassVar[int]
    DECISIVE_FINDING_IDS_FIELD_NUMBER: _ClassVar[int]
    UNLIKELY_FIELD_NUMBER: _ClassVar[int]
    SPECIALIST_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    condition_id: str
    label: str
    probability: float
    codes: _containers.RepeatedCompositeFieldContainer[Code]
    emergency: bool
    dont_miss: bool
    evidence_for: _containers.RepeatedCompositeFieldContainer[EvidenceWeight]
    evidence_against: _containers.RepeatedCompositeFieldContainer[EvidenceWeight]
    decisive_finding_ids: _containers.RepeatedScalarFieldContainer[str]
    unlikely: bool
    specialist: str
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    def __init__(self, condition_id: _Optional[str] = ..., label: _Optional[str] = ..., probability: _Optional[float] = ..., codes: _Optional[_Iterable[_Union[Code, _Mapping]]] = ..., emergency: _Optional[bool] = ..., dont_miss: _Optional[bool] = ..., evidence_for: _Optional[_Iterable[_Union[EvidenceWeight, _Mapping]]] = ..., evidence_against: _Optional[_Iterable[_Union[EvidenceWeight, _Mapping]]] = ..., decisive_finding_ids: _Optional[_Iterable[str]] = ..., unlikely: _Optional[bool] = ..., specialist: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ...) -> None: ...

class Differential(_message.Message):
    __slots__ = ("conditions", "dont_miss", "triage")
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    DONT_MISS_FIELD_NUMBER: _ClassVar[int]
    TRIAGE_FIELD_NUMBER: _ClassVar[int]
    conditions: _containers.RepeatedCompositeFieldContainer[ConditionScore]
    dont_miss: _containers.RepeatedCompositeFieldContainer[ConditionScore]
    triage: Triage
    def __init__(self, conditions: _Optional[_Iterable[_Union[ConditionScore, _Mapping]]] = ..., dont_miss: _Optional[_Iterable[_Union[ConditionScore, _Mapping]]] = ..., triage: _Optional[_Union[Triage, _Mapping]] = ...) -> None: ...

class TestRecommendation(_message.Message):
    __slots__ = ("test_id", "label", "tier", "rationale", "condition_ids", "codes", "contraindications_found", "value_score", "cost_tier", "invasiveness", "typical_wait_days", "same_day", "citations")
    TEST_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    CONTRAINDICATIONS_FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_SCORE_FIELD_NUMBER: _ClassVar[int]
    COST_TIER_FIELD_NUMBER: _ClassVar[int]
    INVASIVENESS_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_WAIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    SAME_DAY_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    test_id: str
    label: str
    tier: TestTier
    rationale: str
    condition_ids: _containers.RepeatedScalarFieldContainer[str]
    codes: _containers.RepeatedCompositeFieldContainer[Code]
    contraindications_found: _containers.RepeatedScalarFieldContainer[str]
    value_score: float
    cost_tier: str
    invasiveness: str
    typical_wait_days: int
    same_day: bool
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    def __init__(self, test_id: _Optional[str] = ..., label: _Optional[str] = ..., tier: _Optional[_Union[TestTier, str]] = ..., rationale: _Optional[str] = ..., condition_ids: _Optional[_Iterable[str]] = ..., codes: _Optional[_Iterable[_Union[Code, _Mapping]]] = ..., contraindications_found: _Optional[_Iterable[str]] = ..., value_score: _Optional[float] = ..., cost_tier: _Optional[str] = ..., invasiveness: _Optional[str] = ..., typical_wait_days: _Optional[int] = ..., same_day: _Optional[bool] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ...) -> None: ...

class TestResult(_message.Message):
    __slots__ = ("test_id", "outcome", "value", "target_condition_ids", "report_text")
    TEST_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TARGET_CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    REPORT_TEXT_FIELD_NUMBER: _ClassVar[int]
    test_id: str
    outcome: TestOutcome
    value: float
    target_condition_ids: _containers.RepeatedScalarFieldContainer[str]
    report_text: str
    def __init__(self, test_id: _Optional[str] = ..., outcome: _Optional[_Union[TestOutcome, str]] = ..., value: _Optional[float] = ..., target_condition_ids: _Optional[_Iterable[str]] = ..., report_text: _Optional[str] = ...) -> None: ...

class PlanItem(_message.Message):
    __slots__ = ("item_id", "text", "family", "condition_ids", "citations", "stage")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    text: str
    family: str
    condition_ids: _containers.RepeatedScalarFieldContainer[str]
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    stage: PlanStage
    def __init__(self, item_id: _Optional[str] = ..., text: _Optional[str] = ..., family: _Optional[str] = ..., condition_ids: _Optional[_Iterable[str]] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ..., stage: _Optional[_Union[PlanStage, str]] = ...) -> None: ...

class TreatmentPlan(_message.Message):
    __slots__ = ("items", "return_to_run", "follow_up_days", "safety_net", "conflicts_resolved", "hold_running", "condition_ids")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    RETURN_TO_RUN_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_DAYS_FIELD_NUMBER: _ClassVar[int]
    SAFETY_NET_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    HOLD_RUNNING_FIELD_NUMBER: _ClassVar[int]
    CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[PlanItem]
    return_to_run: _containers.RepeatedScalarFieldContainer[str]
    follow_up_days: int
    safety_net: _containers.RepeatedScalarFieldContainer[str]
    conflicts_resolved: _containers.RepeatedScalarFieldContainer[str]
    hold_running: bool
    condition_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[_Iterable[_Union[PlanItem, _Mapping]]] = ..., return_to_run: _Optional[_Iterable[str]] = ..., follow_up_days: _Optional[int] = ..., safety_net: _Optional[_Iterable[str]] = ..., conflicts_resolved: _Optional[_Iterable[str]] = ..., hold_running: _Optional[bool] = ..., condition_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class BatchItemError(_message.Message):
    __slots__ = ("index", "violations")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    index: int
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, index: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...

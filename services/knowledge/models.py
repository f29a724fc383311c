"""Pydantic models for the knowledge base.

The knowledge base is data (YAML under ``services/knowledge/data``); these models are the
schema it must satisfy.  They are strict (unknown keys are errors) so that a typo in a data
file fails at load with the file and entry named, instead of silently changing a ranking.
Cross-file checks (ids known, citations resolvable, codes real) live in ``validate.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TriageLevelId = Literal["emergency", "urgent", "routine", "self_care"]
FindingGroup = Literal["location", "laterality", "timing", "symptoms", "exam", "history"]
Setting = Literal["sports_medicine", "general_adult"]
# The patient's sex as recorded (the wire's Sex enum without "unspecified", which is None).
# Prior modifiers exist for female and male only; "other" takes none (``priors.sex_factor``).
Sex = Literal["female", "male", "other"]
CostTier = Literal["low", "medium", "high"]
Invasiveness = Literal["none", "minimal", "moderate", "high"]
PlanStage = Literal["now", "next_2_6_weeks", "escalation"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(Strict):
    """Anything that carries clinical weight must say where it comes from.

    ``citations`` are keys of ``sources.yaml``.  A figure that is an expert estimate says so
    with ``estimate: true`` and a one-line ``estimate_reason``; it still names the source
    that describes the pattern (or the evidence sheet's TCE tag).
    """

    citations: list[str] = Field(min_length=1)
    estimate: bool = False
    estimate_reason: str | None = None

    @model_validator(mode="after")
    def _estimate_needs_reason(self) -> Cited:
        if self.estimate and not (self.estimate_reason and self.estimate_reason.strip()):
            raise ValueError("an estimate needs a one-line estimate_reason")
        return self


SourceKind = Literal["primary", "review", "guideline", "seed", "summary_page", "code_set", "editorial"]


class Source(Strict):
    """A seed document or a published reference.

    ``kind`` says how much a figure resting on it can be trusted: ``primary`` (an original
    study, series or case report), ``review`` (systematic or narrative review, textbook,
    StatPearls-type chapter), ``guideline`` (society guideline, diagnostic criteria, code of
    practice), ``seed`` (the five project seed articles), ``summary_page`` (a generic web
    summary: health-information sites, AI-written or SEO pages, wiki mirrors, blogs),
    ``code_set`` (ICD-10-CM, SNOMED CT, CPT, LOINC listings) and ``editorial`` (the
    project's own estimate tag and evidence sheet).  A likelihood, prior or test accuracy
    never rests on a ``summary_page`` (tests/test_knowledge.py).
    """

    kind: SourceKind
    title: str
    file: str | None = None  # seeds: the file name under shared/seeds
    reference: str | None = None  # journals: authors, journal, year, doi/pmid


class Prevalence(Cited):
    """Prior probability that a patient presenting with foot/leg numbness has the condition."""

    sports_medicine: float = Field(gt=0, lt=1)
    general_adult: float = Field(gt=0, lt=1)


class AgeModifier(Strict):
    """Multiplies the prior for patients whose age falls in [min_age, max_age]."""

    min_age: int = Field(ge=0, le=130)
    max_age: int = Field(ge=0, le=130)
    factor: float = Field(gt=0, le=50)


class ImmediateTestFirst(Cited):
    """One picture in which this emergency's immediate test goes ahead of ``before``'s (the signs
    localise the lesion, the ranking's share does not): a ``when_any`` finding present and no
    ``unless_any`` one. Only the order changes (``workup.precedence``, docs/workup.md)."""

    before: list[str] = Field(min_length=1)
    when_any: list[str] = Field(min_length=1)
    unless_any: list[str] = []


class Condition(Strict):
    id: str
    label: str
    summary: str
    category: Literal["mechanical", "vascular", "spine", "systemic", "central", "other"]
    icd10cm: list[str] = Field(min_length=1)
    snomed: str | None = None
    emergency: bool = False
    dont_miss: bool = False
    default_triage: TriageLevelId
    specialist: str
    prevalence: Prevalence
    age_modifiers: list[AgeModifier] = []
    sex_modifiers: dict[Literal["female", "male"], float] = {}
    citations: list[str] = Field(min_length=1)
    immediate_test_first: list[ImmediateTestFirst] = []

    @field_validator("sex_modifiers")
    @classmethod
    def _positive_factors(cls, value: dict[str, float]) -> dict[str, float]:
        for sex, factor in value.items():
            if not 0 < factor <= 50:
                raise ValueError(f"sex modifier for {sex} must be in (0, 50]")
        return value


class Finding(Strict):
    id: str
    group: FindingGroup
    label: str
    question_patient: str
    question_clinician: str
    body_region: str | None = None  # body-map region id for location findings
    background: float = Field(default=0.05, gt=0, lt=1)  # P(finding) when no listed condition explains it
    # A stand-in for the patient's age ("age over 50"): present exactly when the age is above this. When the age is
    # known the intake derives it (rejecting a contradiction); the ranking counts age once (docs/ranking.md).
    age_above: int | None = Field(default=None, ge=0, le=130)


class Likelihood(Cited):
    """P(finding present | condition)."""

    p: float = Field(gt=0, lt=1)


class RedFlagPattern(Strict):
    """A pattern explaining a rule's findings without its emergency: every ``all_of``, one of each
    ``and_any_of`` group and no ``unless_any`` finding present (``red_flags.pattern_matches``)."""

    all_of: list[str] = Field(min_length=1)
    and_any_of: list[list[str]] = []
    unless_any: list[str] = []


class RedFlagRule(Cited):
    """A rule that forces a triage level regardless of the ranking.

    Fires when every finding in ``all_of`` is present and, if ``any_of`` is given, at least
    one of those is present too, and each group of ``and_any_of`` has a present finding.
    """

    id: str
    description: str
    all_of: list[str] = []
    any_of: list[str] = []
    # Further "at least one of" groups, each of which must also match (e.g. a cold exposure
    # AND a deep-injury sign), so a pathway's conjunctions stay one rule.
    and_any_of: list[list[str]] = []
    # The rule does not fire when any of these is present: a named pattern that explains the
    # findings without the emergency (e.g. positional neurogenic claudication).
    unless_any: list[str] = []
    # Nor when this pattern matches: a conjunction (unless_any is one finding at a time).
    unless_pattern: RedFlagPattern | None = None
    level: TriageLevelId
    suspect: list[str] = []  # condition ids this flag raises

    @model_validator(mode="after")
    def _has_findings(self) -> RedFlagRule:
        if not self.all_of and not self.any_of:
            raise ValueError("a red-flag rule needs all_of or any_of findings")
        return self


TriageSurface = Literal["console", "report", "card", "clinician_view", "record"]


class TriageLabels(Strict):
    """How each surface names a triage level: wording, not a clinical figure (so no citation).

    ``console``: the ``footcds assess`` panel title; ``report``: the team report (report.html);
    ``card``: CDS Hooks card summaries and details; ``clinician_view``: the page a card links to;
    ``record``: the FHIR RiskAssessment note and the staff intake list.  The surfaces differ in
    register (a shouted card summary, a lower-case note), so each has its own field.
    """

    console: str = Field(min_length=1, max_length=40)
    report: str = Field(min_length=1, max_length=40)
    card: str = Field(min_length=1, max_length=40)
    clinician_view: str = Field(min_length=1, max_length=40)
    record: str = Field(min_length=1, max_length=40)


class TriageLevel(Strict):
    id: TriageLevelId
    rank: int  # 0 = most urgent
    label: str
    labels: TriageLabels
    advice: str


class TriagePolicy(Cited):
    """Escalating probability thresholds; an emergency's own setting (rounds 11-12, differential/own_setting.py)."""

    emergency_condition_threshold: float = Field(gt=0, lt=1)
    urgent_condition_threshold: float = Field(gt=0, lt=1)
    dont_miss_threshold: float = Field(gt=0, lt=1)
    unlikely_floor: float = Field(gt=0, lt=1)
    emergency_needs_context: dict[str, list[str]] = {}
    emergency_not_when: dict[str, list[str]] = {}
    emergency_setting_gates_leader: list[str] = []  # round 12: a leader without any setting is urgent
    emergency_setting_gates_dont_miss: list[str] = []  # round 12: the 1% line reads the setting too


class TestAccuracy(Cited):
    sensitivity: float = Field(gt=0, lt=1)
    specificity: float = Field(gt=0, lt=1)


class ValueThreshold(Strict):
    """How a numeric result reads: abnormal when below ``abnormal_below`` or above ``abnormal_above``."""

    unit: str
    abnormal_below: float | None = None
    abnormal_above: float | None = None
    plausible_min: float
    plausible_max: float
    citations: list[str] = Field(min_length=1)


class DiagnosticTest(Strict):
    id: str
    label: str
    cpt: list[str] = []
    loinc: list[str] = []
    code_note: str | None = None  # e.g. "CPT not confirmed in a stored source; verify"
    detects: dict[str, TestAccuracy] = {}  # condition id -> accuracy
    cost_tier: CostTier
    invasiveness: Invasiveness
    typical_wait_days: int = Field(ge=0, le=365)
    same_day: bool
    # Emergency pathways: conditions (ids in ``detects``) for which the test is obtained the
    # same day when that emergency is suspected, although the usual outpatient wait is long
    # (e.g. MRI lumbar spine for suspected cauda equina).  Used only by the immediate tier.
    same_day_if_suspected: list[str] = []
    contraindications: list[str] = []  # patient-context flags that make it unsafe
    value: ValueThreshold | None = None
    citations: list[str] = Field(min_length=1)
    no_test: bool = False  # the catalogue's one "no test needed now" entry: recommended, never ordered

    @model_validator(mode="after")
    def _same_day_only_for_detected(self) -> DiagnosticTest:
        unknown = [c for c in self.same_day_if_suspected if c not in self.detects]
        if unknown:
            raise ValueError(f"same_day_if_suspected names conditions it does not detect: {unknown}")
        return self


class TreatmentItem(Cited):
    id: str
    family: str
    text: str
    avoid_if: list[str] = []  # patient-context flags that rule the item out


class ConditionPlan(Cited):
    condition_id: str
    now: list[str] = []
    next_2_6_weeks: list[str] = []
    escalation: list[str] = []
    return_to_run: list[str] = []
    follow_up_days: int = Field(ge=0, le=365)
    safety_net: list[str] = []
    holds_running: bool = False  # no "run through it" while this condition is open


class QuestionOption(Strict):
    id: str
    label: str
    sets_present: list[str] = []
    sets_absent: list[str] = []


class Question(Strict):
    id: str
    text_patient: str
    text_clinician: str
    kind: Literal["single", "multiple", "body_map"]
    options: list[QuestionOption] = Field(min_length=1)


class ExclusivePair(Strict):
    """Two findings that cannot both be present in one intake."""

    pair: tuple[str, str]
    reason: str


class TeamAdviceRule(Cited):
    """Team-level advice for a screened roster when a cause clusters (``team_advice.yaml``).

    Fires when at least ``min_athletes`` screened athletes, and at least ``min_share`` of the
    screened athletes, lead with one of ``condition_ids`` at ``min_probability`` or more.
    The thresholds are data so a team physician can tune them without touching code.
    """

    id: str
    condition_ids: list[str] = Field(min_length=1)
    min_athletes: int = Field(ge=1)
    min_share: float = Field(ge=0, le=1)
    min_probability: float = Field(default=0.0, ge=0, lt=1)
    title: str
    advice: str


# --- evidence model (evidence_model.yaml; the method: docs/ranking.md) --------------------


class Implication(Strict):
    """A finding that logically entails others: ``finding`` present means every ``implies``
    present, and any of ``implies`` absent means ``finding`` absent (foot drop is weakness)."""

    finding: str
    implies: list[str] = Field(min_length=1)
    reason: str


class CorrelationGroup(Strict):
    """Findings that travel together without one entailing the other (metformin is taken for
    diabetes): when several are present, a condition is credited with their mean log-likelihood ratio."""

    id: str
    findings: list[str] = Field(min_length=2)
    reason: str


class Hallmark(Cited):
    """Findings without which a condition is rarely diagnosed.

    ``coverage`` = P(at least one of ``findings`` present | condition).  When none is present
    and at least one is unknown, the ranking multiplies the condition's score by
    ``1 - reporting * coverage`` (``FitPolicy.hallmark_reporting``), so a common condition
    does not lead on its prior alone.
    """

    condition: str
    findings: list[str] = Field(min_length=1)
    coverage: float = Field(gt=0, lt=1)


class FitPolicy(Cited):
    """When "none of the listed conditions fits well" is said, and what to do next.

    Fit = the log-likelihood ratio (nats) of the counted findings under the best listed
    condition against the background model (every finding at its background rate).  A case
    with at least ``min_present`` present findings fits poorly when that ratio is below
    ``min_log_lr`` or the leader leaves more than ``max_unexplained_share`` of the present
    findings unexplained (its P(f | c) no higher than the background).
    """

    hallmark_reporting: float = Field(gt=0, lt=1)
    min_present: int = Field(ge=1, le=50)
    min_log_lr: float = Field(ge=0, le=20)
    max_unexplained_share: float = Field(gt=0, le=1)
    # "Other" as a leak: the share of unlisted causes that present like a listed condition
    # (a mimic); the rest look like the background model (docs/ranking.md, section 7).
    other_mimic_share: float = Field(default=0.0, ge=0, lt=1)
    advice: str


class EvidenceModel(Strict):
    implications: list[Implication] = []
    correlation_groups: list[CorrelationGroup] = []
    hallmarks: list[Hallmark] = []
    fit: FitPolicy

    @model_validator(mode="after")
    def _acyclic_and_unique(self) -> EvidenceModel:
        children = [i.finding for i in self.implications]
        if len(children) != len(set(children)):
            raise ValueError("implications: a finding is listed twice; merge its 'implies'")
        graph = {i.finding: list(i.implies) for i in self.implications}
        for start in graph:
            stack, seen = list(graph[start]), set()
            while stack:
                node = stack.pop()
                if node == start:
                    raise ValueError(f"implications: {start!r} implies itself through a cycle")
                if node not in seen:
                    seen.add(node)
                    stack.extend(graph.get(node, ()))
        conditions = [h.condition for h in self.hallmarks]
        if len(conditions) != len(set(conditions)):
            raise ValueError("hallmarks: a condition is listed twice")
        return self


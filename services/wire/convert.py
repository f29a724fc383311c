"""Map the shared clinical values to and from their protobuf messages.

Only shape changes happen here; validation of meaning (known ids, plausible ages) belongs
to the intake domain, which raises ``InvalidInput`` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, fields
from operator import attrgetter

from footcds.v1 import common_pb2 as pb

from services.knowledge.clinical import (
    CitationRef,
    Differential,
    Patient,
    PlanItem,
    RedFlagHit,
    ScoredCondition,
    State,
    TestRecommendation,
    TreatmentPlan,
    Triage,
    Weight,
    scored_condition,
)
from services.knowledge.models import Sex
from services.platform.errors import InvalidInput, Violation

STATE_TO_PB = {
    State.PRESENT: pb.EVIDENCE_STATE_PRESENT,
    State.ABSENT: pb.EVIDENCE_STATE_ABSENT,
    State.UNKNOWN: pb.EVIDENCE_STATE_UNKNOWN,
}
PB_TO_STATE = {v: k for k, v in STATE_TO_PB.items()}

TRIAGE_TO_PB = {
    "emergency": pb.TRIAGE_LEVEL_EMERGENCY,
    "urgent": pb.TRIAGE_LEVEL_URGENT,
    "routine": pb.TRIAGE_LEVEL_ROUTINE,
    "self_care": pb.TRIAGE_LEVEL_SELF_CARE,
}
PB_TO_TRIAGE = {v: k for k, v in TRIAGE_TO_PB.items()}

PB_TO_SEX: dict[pb.Sex, Sex] = {pb.SEX_FEMALE: "female", pb.SEX_MALE: "male", pb.SEX_OTHER: "other"}
SEX_TO_PB: dict[str, pb.Sex] = {v: k for k, v in PB_TO_SEX.items()}

SETTING_TO_PB = {
    "sports_medicine": pb.CLINICAL_SETTING_SPORTS_MEDICINE,
    "general_adult": pb.CLINICAL_SETTING_GENERAL_ADULT,
}
PB_TO_SETTING = {v: k for k, v in SETTING_TO_PB.items()}

TIER_TO_PB = {
    "immediate": pb.TEST_TIER_IMMEDIATE,
    "first_line": pb.TEST_TIER_FIRST_LINE,
    "if_unclear": pb.TEST_TIER_IF_UNCLEAR,
}
PB_TO_TIER = {v: k for k, v in TIER_TO_PB.items()}

STAGE_TO_PB = {
    "now": pb.PLAN_STAGE_NOW,
    "next_2_6_weeks": pb.PLAN_STAGE_NEXT_2_6_WEEKS,
    "escalation": pb.PLAN_STAGE_ESCALATION,
}
PB_TO_STAGE = {v: k for k, v in STAGE_TO_PB.items()}


# --- patient ---------------------------------------------------------------------------


def sex_from_pb(value: pb.Sex, prefix: str = "") -> Sex | None:
    """The recorded sex (None: unspecified); a number the enum does not define is refused, naming
    the field, so a direct in-process caller cannot have it dropped silently."""
    if value == pb.SEX_UNSPECIFIED:
        return None
    if value not in PB_TO_SEX:
        names = ", ".join(pb.Sex.Name(v) for v in PB_TO_SEX)
        raise InvalidInput([Violation(f"{prefix}patient.sex", f"{value} is not a value of Sex ({names})")],
                           "the patient is invalid")
    return PB_TO_SEX[value]


def patient_from_pb(msg: pb.PatientContext, prefix: str = "") -> Patient:
    return Patient(
        ref=msg.patient_ref,
        age=msg.age_years if msg.HasField("age_years") else None,
        sex=sex_from_pb(msg.sex, prefix),
        activity=msg.activity,
        setting=PB_TO_SETTING.get(msg.setting, "sports_medicine"),
        flags=frozenset(msg.context_flags),
        days_to_competition=(
            msg.days_to_competition if msg.HasField("days_to_competition") else None
        ),
    )


def patient_to_pb(patient: Patient) -> pb.PatientContext:
    msg = pb.PatientContext(
        patient_ref=patient.ref,
        sex=SEX_TO_PB.get(patient.sex or "", pb.SEX_UNSPECIFIED),
        activity=patient.activity,
        setting=SETTING_TO_PB[patient.setting],
        context_flags=sorted(patient.flags),
    )
    if patient.age is not None:
        msg.age_years = patient.age
    if patient.days_to_competition is not None:
        msg.days_to_competition = patient.days_to_competition
    return msg


def evidence_to_pb(evidence: dict[str, State]) -> list[pb.Evidence]:
    return [pb.Evidence(finding_id=f, state=STATE_TO_PB[s]) for f, s in evidence.items()]


def evidence_from_pb(items: Iterable[pb.Evidence]) -> dict[str, State]:
    """Evidence that intake has already validated (known ids, a state each)."""
    return {e.finding_id: PB_TO_STATE.get(e.state, State.UNKNOWN) for e in items}


# --- citations, triage, differential ---------------------------------------------------


def _citations_to_pb(refs: Iterable[CitationRef]) -> list[pb.Citation]:
    return [pb.Citation(source_key=r.key, title=r.title, estimate=r.estimate) for r in refs]


def _citations_from_pb(items: Iterable[pb.Citation]) -> tuple[CitationRef, ...]:
    return tuple(CitationRef(c.source_key, c.title, c.estimate) for c in items)


def red_flag_to_pb(hit: RedFlagHit) -> pb.RedFlag:
    return pb.RedFlag(
        rule_id=hit.rule_id,
        description=hit.description,
        finding_ids=list(hit.finding_ids),
        level=TRIAGE_TO_PB[hit.level],
        suspect_condition_ids=list(hit.suspect),
    )


def red_flag_from_pb(msg: pb.RedFlag) -> RedFlagHit:
    return RedFlagHit(
        rule_id=msg.rule_id,
        description=msg.description,
        finding_ids=tuple(msg.finding_ids),
        level=PB_TO_TRIAGE.get(msg.level, "routine"),
        suspect=tuple(msg.suspect_condition_ids),
    )


def triage_to_pb(triage: Triage) -> pb.Triage:
    return pb.Triage(
        level=TRIAGE_TO_PB[triage.level],
        reasons=list(triage.reasons),
        red_flags=[red_flag_to_pb(h) for h in triage.red_flags],
        advice=triage.advice,
    )


def triage_from_pb(msg: pb.Triage) -> Triage:
    return Triage(
        level=PB_TO_TRIAGE.get(msg.level, "routine"),
        reasons=tuple(msg.reasons),
        red_flags=tuple(red_flag_from_pb(r) for r in msg.red_flags),
        advice=msg.advice,
    )


def _weight_to_pb(w: Weight) -> pb.EvidenceWeight:
    return pb.EvidenceWeight(
        finding_id=w.finding_id, label=w.label, state=STATE_TO_PB[w.state],
        log_likelihood_ratio=w.llr,
    )


def _weight_from_pb(msg: pb.EvidenceWeight) -> Weight:
    return Weight(msg.finding_id, msg.label, PB_TO_STATE.get(msg.state, State.UNKNOWN),
                  msg.log_likelihood_ratio)


def scored_to_pb(c: ScoredCondition) -> pb.ConditionScore:
    codes = [pb.Code(system="ICD-10-CM", code=code) for code in c.icd10cm]
    if c.snomed:
        codes.append(pb.Code(system="SNOMED CT", code=c.snomed))
    return pb.ConditionScore(
        condition_id=c.condition_id,
        label=c.label,
        probability=c.probability,
        codes=codes,
        emergency=c.emergency,
        dont_miss=c.dont_miss,
        evidence_for=[_weight_to_pb(w) for w in c.evidence_for],
        evidence_against=[_weight_to_pb(w) for w in c.evidence_against],
        decisive_finding_ids=list(c.decisive_findings),
        unlikely=c.unlikely,
        specialist=c.specialist,
        citations=_citations_to_pb(c.citations),
    )


def scored_from_pb(msg: pb.ConditionScore) -> ScoredCondition:
    return ScoredCondition(
        condition_id=msg.condition_id,
        label=msg.label,
        probability=msg.probability,
        icd10cm=tuple(c.code for c in msg.codes if c.system == "ICD-10-CM"),
        snomed=next((c.code for c in msg.codes if c.system == "SNOMED CT"), None),
        emergency=msg.emergency,
        dont_miss=msg.dont_miss,
        evidence_for=tuple(_weight_from_pb(w) for w in msg.evidence_for),
        evidence_against=tuple(_weight_from_pb(w) for w in msg.evidence_against),
        decisive_findings=tuple(msg.decisive_finding_ids),
        unlikely=msg.unlikely,
        specialist=msg.specialist,
        citations=_citations_from_pb(msg.citations),
    )


def differential_to_pb_plain(d: Differential) -> pb.Differential:
    """The straightforward construction; ``differential_to_pb`` is checked against it."""
    return pb.Differential(
        conditions=[scored_to_pb(c) for c in d.conditions],
        dont_miss=[scored_to_pb(c) for c in d.dont_miss],
        triage=triage_to_pb(d.triage),
    )


def differential_from_pb(msg: pb.Differential) -> Differential:
    return Differential(
        conditions=tuple(scored_from_pb(c) for c in msg.conditions),
        dont_miss=tuple(scored_from_pb(c) for c in msg.dont_miss),
        triage=triage_from_pb(msg.triage),
    )


# The lean fields' defaults, checked against the dataclass at import (the builder itself,
# ``clinical.scored_condition``, checks the field order): a changed default fails loudly.
_SCORED_DEFAULTS = (
    ("condition_id", MISSING), ("label", MISSING), ("probability", MISSING), ("icd10cm", ()),
    ("snomed", None), ("emergency", False), ("dont_miss", False), ("evidence_for", ()),
    ("evidence_against", ()), ("decisive_findings", ()), ("unlikely", False), ("specialist", ""),
    ("citations", ()),
)
if tuple((f.name, f.default) for f in fields(ScoredCondition)) != _SCORED_DEFAULTS:
    raise RuntimeError("ScoredCondition's fields changed: update convert.lean_scored_from_pb")


def lean_scored_from_pb(msg: pb.ConditionScore) -> ScoredCondition:
    """A condition without its codes, explanation or citations: the work-up quotes only its id,
    label, probability and flags (the leader, the don't-miss list)."""
    return scored_condition(
        msg.condition_id, msg.label, msg.probability, (), None, msg.emergency, msg.dont_miss, (), (), (),
        msg.unlikely, msg.specialist, (),
    )


_CONDITION_ID = attrgetter("condition_id")
_PROBABILITY = attrgetter("probability")


def differential_columns(msg: pb.Differential) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The conditions' ids and probabilities, in order, read straight from the message
    (C-level ``map``): what work-up and treatment value a differential by, without a
    condition object per condition (~70 us per athlete of a roster, docs/performance.md).
    The items are listed once first: each pass over a upb repeated field makes a wrapper per
    item, so two maps over the field made them twice (16 -> 11 us per differential, twelfth pass)."""
    conditions = list(msg.conditions)
    return tuple(map(_CONDITION_ID, conditions)), tuple(map(_PROBABILITY, conditions))


# --- batches ---------------------------------------------------------------------------


def batch_error(index: int, violations: Iterable[Violation]) -> pb.BatchItemError:
    """A rejected batch item: the others still run, this one says which fields were wrong."""
    return pb.BatchItemError(
        index=index,
        violations=[pb.FieldViolation(field=v.field, description=v.description) for v in violations],
    )


# --- tests and plans -------------------------------------------------------------------


def test_to_pb(t: TestRecommendation) -> pb.TestRecommendation:
    codes = [pb.Code(system="CPT", code=c) for c in t.cpt]
    codes += [pb.Code(system="LOINC", code=c) for c in t.loinc]
    return pb.TestRecommendation(
        test_id=t.test_id,
        label=t.label,
        tier=TIER_TO_PB.get(t.tier, pb.TEST_TIER_UNSPECIFIED),
        rationale=t.rationale,
        condition_ids=list(t.condition_ids),
        codes=codes,
        contraindications_found=list(t.contraindications_found),
        value_score=t.value_score,
        cost_tier=t.cost_tier,
        invasiveness=t.invasiveness,
        typical_wait_days=t.typical_wait_days,
        same_day=t.same_day,
        citations=_citations_to_pb(t.citations),
    )


def test_from_pb(msg: pb.TestRecommendation) -> TestRecommendation:
    return TestRecommendation(
        test_id=msg.test_id,
        label=msg.label,
        tier=PB_TO_TIER.get(msg.tier, "first_line"),
        rationale=msg.rationale,
        condition_ids=tuple(msg.condition_ids),
        cpt=tuple(c.code for c in msg.codes if c.system == "CPT"),
        loinc=tuple(c.code for c in msg.codes if c.system == "LOINC"),
        contraindications_found=tuple(msg.contraindications_found),
        value_score=msg.value_score,
        cost_tier=msg.cost_tier,
        invasiveness=msg.invasiveness,
        typical_wait_days=msg.typical_wait_days,
        same_day=msg.same_day,
        citations=_citations_from_pb(msg.citations),
    )


def plan_item_to_pb(i: PlanItem) -> pb.PlanItem:
    return pb.PlanItem(
        item_id=i.item_id, text=i.text, family=i.family,
        condition_ids=list(i.condition_ids), citations=_citations_to_pb(i.citations),
        stage=STAGE_TO_PB[i.stage],
    )


def plan_to_pb(plan: TreatmentPlan) -> pb.TreatmentPlan:
    return pb.TreatmentPlan(
        items=[plan_item_to_pb(i) for i in plan.items],
        return_to_run=list(plan.return_to_run),
        follow_up_days=plan.follow_up_days,
        safety_net=list(plan.safety_net),
        conflicts_resolved=list(plan.conflicts_resolved),
        hold_running=plan.hold_running,
        condition_ids=list(plan.condition_ids),
    )


def plan_from_pb(msg: pb.TreatmentPlan) -> TreatmentPlan:
    return TreatmentPlan(
        items=tuple(
            PlanItem(
                item_id=i.item_id, text=i.text, family=i.family,
                stage=PB_TO_STAGE.get(i.stage, "now"), condition_ids=tuple(i.condition_ids),
                citations=_citations_from_pb(i.citations),
            )
            for i in msg.items
        ),
        return_to_run=tuple(msg.return_to_run),
        follow_up_days=msg.follow_up_days,
        safety_net=tuple(msg.safety_net),
        conflicts_resolved=tuple(msg.conflicts_resolved),
        hold_running=msg.hold_running,
        condition_ids=tuple(msg.condition_ids),
    )

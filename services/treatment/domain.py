"""Draft a staged treatment plan for the leading conditions and the patient in front of us.

Each condition's plan is knowledge-base data (``ConditionPlan``: now / next 2-6 weeks /
escalation item ids, return-to-run criteria, follow-up, safety net, ``holds_running``).
This module chooses which plans apply, merges them, and resolves their conflicts, saying
why in ``conflicts_resolved`` so the clinician can overrule any of it:

- which plans: the leader, other conditions with a meaningful probability (up to three in
  all), and open emergencies (emergency conditions above the KB's emergency threshold, or
  suspected by a red flag while the ranking still considers them);
- merge: an item appears once, at the earliest stage any plan gives it, listing every
  condition it serves; emergency plans go first;
- running: while a plan that holds running (or an emergency) is open, running items
  (family ``training``) from other plans and their return-to-run advice are left out;
- patient context: items whose ``avoid_if`` meets the patient's flags are left out.  Age
  and the competition date become flags too (``age_65_or_over``, ``upcoming_competition``)
  so the KB can say which items they rule out; a flag that the KB derives from a history
  finding (diabetes from ``hx_diabetes``) brings in the first-stage care of the condition
  that finding is most characteristic of (foot care and glycaemic control for diabetes).

Nothing here is keyed on a condition or item id: behaviour comes from the KB's flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.knowledge.clinical import (
    CitationRef,
    Differential,
    Patient,
    PlanItem,
    TreatmentPlan,
    Triage,
)
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import ConditionPlan, TreatmentItem
from services.knowledge.policy import clinical_policy
from services.platform.errors import InvalidInput, Violation
from services.workup.selection import emergencies_among

STAGES = ("now", "next_2_6_weeks", "escalation")
MAX_CONDITIONS = 3  # the leader and up to two others (emergencies come on top)
# The cut-offs are clinical policy (knowledge/data/policy.yaml), cited or marked estimates.
POLICY = clinical_policy().treatment
MEANINGFUL_PROBABILITY = POLICY.meaningful_probability.value  # below: no plan of its own unless leading
RUNNING_FAMILIES = frozenset({"training"})  # item families that mean "keep / return to running"
# Flags derived from patient fields, so KB items can name them in ``avoid_if``.
AGE_FLAG = "age_65_or_over"
AGE_FLAG_YEARS = POLICY.age_flag_years.value  # TCA caution in older adults (NP-tab)
COMPETITION_FLAG = "upcoming_competition"
COMPETITION_WINDOW_DAYS = POLICY.competition_window_days.value


def context_flags(patient: Patient) -> frozenset[str]:
    """The patient's flags plus those derived from age and the competition date."""
    flags = set(patient.flags)
    if patient.age is not None and patient.age >= AGE_FLAG_YEARS:
        flags.add(AGE_FLAG)
    days = patient.days_to_competition
    if days is not None and days <= COMPETITION_WINDOW_DAYS:
        flags.add(COMPETITION_FLAG)
    return frozenset(flags)


# --- which plans -------------------------------------------------------------------------


def _check(kb: KnowledgeBase, differential: Differential) -> None:
    if not differential.conditions:
        raise InvalidInput(
            [Violation("differential.conditions", "a ranked differential is required")]
        )
    bad = [
        Violation(
            f"differential.conditions[{i}].condition_id", f"unknown condition {c.condition_id!r}"
        )
        for i, c in enumerate(differential.conditions)
        if c.condition_id not in kb.conditions
    ]
    if bad:
        raise InvalidInput(bad)


def select_conditions(
    kb: KnowledgeBase, ids: Sequence[str], probabilities: Sequence[float], triage: Triage
) -> tuple[str, ...]:
    """Open emergencies first, then the leader and other meaningful conditions (three in all),
    from the differential's columns (its condition ids and probabilities, in order).

    The leader always counts (whatever its probability); another condition needs at least
    ``MEANINGFUL_PROBABILITY`` so a plan is not padded with causes the ranking barely holds.
    """
    emergencies = emergencies_among(kb, ids, probabilities, triage, kb.triage_policy.emergency_condition_threshold)
    ranked = sorted(range(len(ids)), key=lambda i: -probabilities[i])
    leading = [ids[ranked[0]]] + [ids[i] for i in ranked[1:] if probabilities[i] >= MEANINGFUL_PROBABILITY]
    chosen = [*emergencies, *leading[:MAX_CONDITIONS]]
    return tuple(c for c in dict.fromkeys(chosen) if c in kb.plans)


# --- building ----------------------------------------------------------------------------


@dataclass
class _Draft:
    """Items being merged: id -> (stage, condition ids), in insertion order."""

    stage: dict[str, str] = field(default_factory=dict)
    serves: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, item_id: str, stage: str, condition_id: str) -> None:
        if item_id not in self.stage:
            self.stage[item_id] = stage
            self.serves[item_id] = []
        if condition_id not in self.serves[item_id]:
            self.serves[item_id].append(condition_id)

    def drop(self, item_ids: Iterable[str]) -> None:
        for item_id in item_ids:
            self.stage.pop(item_id, None)
            self.serves.pop(item_id, None)


def _merge(kb: KnowledgeBase, plans: Sequence[ConditionPlan]) -> _Draft:
    """Stage by stage, plan by plan: an item keeps the earliest stage any plan gives it."""
    draft = _Draft()
    for stage in STAGES:
        for plan in plans:
            for item_id in getattr(plan, stage):
                draft.add(item_id, stage, plan.condition_id)
    return draft


def _short(item: TreatmentItem) -> str:
    """The item's first clause, for sentences about it."""
    text = item.text.split(":")[0] if ":" in item.text[:60] else item.text
    text = text.split(";")[0].split(". ")[0].rstrip(".")
    return text if len(text) <= 90 else text[:87].rstrip() + "..."


def _labels(kb: KnowledgeBase, condition_ids: Iterable[str]) -> str:
    return ", ".join(kb.conditions[c].label for c in condition_ids)


def _words(flags: Iterable[str]) -> str:
    return ", ".join(f.replace("_", " ") for f in flags)


def _hold_running(
    kb: KnowledgeBase, plans: Sequence[ConditionPlan], draft: _Draft
) -> tuple[bool, frozenset[str]]:
    """Whether running stops, and which plans may still prescribe running items."""
    holders = [p for p in plans if p.holds_running or kb.conditions[p.condition_id].emergency]
    if not holders:
        return False, frozenset(p.condition_id for p in plans)
    emergency = [p.condition_id for p in holders if kb.conditions[p.condition_id].emergency]
    # With an emergency open nothing about running applies; otherwise a holding plan's own
    # supervised return (e.g. running retraining) stays.
    allowed = frozenset() if emergency else frozenset(p.condition_id for p in holders)
    removed = [
        item_id
        for item_id, serves in draft.serves.items()
        if kb.treatment_items[item_id].family in RUNNING_FAMILIES
        and not allowed.intersection(serves)
    ]
    reason = (
        f"an emergency ({_labels(kb, emergency)}) is open"
        if emergency
        else f"{_labels(kb, (p.condition_id for p in holders))} must be assessed before running"
    )
    sentence = f"Running is on hold because {reason}."
    if removed:
        items = "; ".join(_short(kb.treatment_items[i]) for i in removed)
        sentence += f" Left out running advice until then: {items}."
    draft.notes.append(sentence)
    draft.drop(removed)
    return True, allowed


def _avoid(kb: KnowledgeBase, draft: _Draft, flags: frozenset[str], patient: Patient) -> None:
    """Leave out items the patient's context rules out, one sentence per item."""
    for item_id in list(draft.stage):
        item = kb.treatment_items[item_id]
        found = [f for f in item.avoid_if if f in flags]
        if not found:
            continue
        why = _words(found)
        if COMPETITION_FLAG in found and patient.days_to_competition is not None:
            why += f" (competition in {patient.days_to_competition} days)"
        if AGE_FLAG in found and patient.age is not None:
            why += f" (age {patient.age})"
        draft.notes.append(f"Left out {_short(item)}: avoid with {why}.")
        draft.drop([item_id])


def _flag_home(kb: KnowledgeBase, flag: str) -> str | None:
    """The condition whose care a context flag brings in, from the KB's own links.

    A flag the KB derives from a history finding belongs to the condition that finding is
    most characteristic of (highest P(finding | condition)).
    """
    best: tuple[float, str] | None = None
    for finding_id, derived in kb.flags_from_findings.items():
        if derived != flag:
            continue
        for cid, per_finding in kb.likelihoods.items():
            lik = per_finding.get(finding_id)
            if lik is not None and cid in kb.plans and (best is None or lik.p > best[0]):
                best = (lik.p, cid)
    return best[1] if best else None


def _context_care(kb: KnowledgeBase, draft: _Draft, flags: frozenset[str]) -> None:
    """Add (or keep) the first-stage care a comorbidity flag calls for, whatever the cause."""
    for flag in sorted(flags):
        home = _flag_home(kb, flag)
        if home is None:
            continue
        added = []
        for item_id in kb.plans[home].now:
            if any(f in flags for f in kb.treatment_items[item_id].avoid_if):
                continue
            if item_id not in draft.stage:
                added.append(item_id)
            draft.add(item_id, "now", home)
        if added:
            items = "; ".join(_short(kb.treatment_items[i]) for i in added)
            draft.notes.append(
                f"{flag.replace('_', ' ').capitalize()}: added the first-stage care from the "
                f"{kb.conditions[home].label} plan whatever the cause of the numbness: {items}."
            )


def _competition(
    kb: KnowledgeBase,
    patient: Patient,
    flags: frozenset[str],
    hold: bool,
    chosen: Sequence[str],
) -> str | None:
    if COMPETITION_FLAG not in flags:
        return None
    days = patient.days_to_competition
    when = f"in {days} days" if days is not None else "within about four weeks"
    if hold:
        return (
            f"Competition {when}: do not race until a clinician has reviewed "
            f"{_labels(kb, chosen)}; running is on hold."
        )
    return (
        f"Competition {when}: start no new interventions such as injections before the event; "
        "keep to measures already tolerated and review afterwards."
    )


def _return_to_run(
    kb: KnowledgeBase,
    plans: Sequence[ConditionPlan],
    draft: _Draft,
    hold: bool,
    allowed: frozenset[str],
) -> tuple[str, ...]:
    """Return-to-run criteria of the plans used; while running is on hold, only those of
    the plans that hold it (a "keep running as comfort allows" line would contradict it).
    """
    def counts(plan: ConditionPlan) -> bool:
        cid = plan.condition_id
        return not hold or cid in allowed or kb.conditions[cid].emergency

    dropped = [p.condition_id for p in plans if p.return_to_run and not counts(p)]
    if dropped:
        draft.notes.append(
            f"Return-to-run advice for {_labels(kb, dropped)} left out while running is on hold."
        )
    return _union(p.return_to_run for p in plans if counts(p))


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for group in groups for s in group))


def _citations(kb: KnowledgeBase, item: TreatmentItem) -> tuple[CitationRef, ...]:
    return tuple(CitationRef(k, kb.sources[k].title, item.estimate) for k in item.citations)


def _items(kb: KnowledgeBase, draft: _Draft) -> tuple[PlanItem, ...]:
    out = []
    for stage in STAGES:
        for item_id, item_stage in draft.stage.items():
            if item_stage != stage:
                continue
            item = kb.treatment_items[item_id]
            out.append(
                PlanItem(
                    item_id=item_id,
                    text=item.text,
                    family=item.family,
                    stage=stage,
                    condition_ids=tuple(draft.serves[item_id]),
                    citations=_citations(kb, item),
                )
            )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """Everything a plan depends on, and nothing else: equal inputs give an equal plan.

    The chosen conditions, the patient's flags (with the derived age and competition
    flags), whether triage is emergency, and the age and days to competition only when a
    flag makes them part of the words (``_avoid``, ``_competition``).  Hashable, so the
    servicer can reuse a plan assembled for the same inputs (a team has many).
    """

    chosen: tuple[str, ...]
    flags: frozenset[str]
    emergency: bool
    age: int | None
    days_to_competition: int | None


def plan_inputs(kb: KnowledgeBase, patient: Patient, differential: Differential) -> PlanInputs:
    """What ``plan_from_inputs`` needs from a differential and a patient (validated)."""
    _check(kb, differential)
    conditions = differential.conditions
    return ranked_inputs(
        kb, patient, [c.condition_id for c in conditions], [c.probability for c in conditions], differential.triage
    )


def ranked_inputs(
    kb: KnowledgeBase, patient: Patient, ids: Sequence[str], probabilities: Sequence[float], triage: Triage
) -> PlanInputs:
    """``plan_inputs`` from the differential's columns, its condition ids already checked
    (non-empty, known): the batch handler reads only these from each message."""
    flags = context_flags(patient)
    return PlanInputs(
        chosen=select_conditions(kb, ids, probabilities, triage),
        flags=flags,
        emergency=triage.level == "emergency",
        age=patient.age if AGE_FLAG in flags else None,
        days_to_competition=patient.days_to_competition if COMPETITION_FLAG in flags else None,
    )


def plan_treatment(
    kb: KnowledgeBase, patient: Patient, differential: Differential
) -> TreatmentPlan:
    """The merged, staged plan for the differential's leading conditions and this patient."""
    return plan_from_inputs(kb, plan_inputs(kb, patient, differential))


def plan_from_inputs(kb: KnowledgeBase, inputs: PlanInputs) -> TreatmentPlan:
    """The plan for ``plan_inputs``' result: reads nothing but ``inputs`` and the KB."""
    chosen = inputs.chosen
    plans = [kb.plans[c] for c in chosen]
    flags = inputs.flags
    # Only the fields the words use (the others are not part of the inputs).
    patient = Patient(age=inputs.age, days_to_competition=inputs.days_to_competition)
    draft = _merge(kb, plans)
    emergency = inputs.emergency
    emergencies = [c for c in chosen if kb.conditions[c].emergency]
    others = [c for c in chosen if c not in emergencies]
    if emergencies and others:
        draft.notes.append(
            f"Emergency first: the items for {_labels(kb, others)} apply only once "
            f"{_labels(kb, emergencies)} has been excluded or treated."
        )
    hold, allowed = _hold_running(kb, plans, draft)
    _avoid(kb, draft, flags, patient)
    _context_care(kb, draft, flags)
    competition = _competition(kb, patient, flags, hold, chosen)
    if competition:
        draft.notes.append(competition)
    return_to_run = _return_to_run(kb, plans, draft, hold, allowed)
    return TreatmentPlan(
        items=_items(kb, draft),
        return_to_run=return_to_run,
        follow_up_days=0 if emergency else min((p.follow_up_days for p in plans), default=0),
        safety_net=_union(p.safety_net for p in plans),
        conflicts_resolved=tuple(dict.fromkeys(draft.notes)),
        hold_running=hold,
        condition_ids=chosen,
    )


__all__ = [
    "AGE_FLAG",
    "COMPETITION_FLAG",
    "PlanInputs",
    "context_flags",
    "plan_from_inputs",
    "plan_inputs",
    "ranked_inputs",
    "plan_treatment",
    "select_conditions",
]

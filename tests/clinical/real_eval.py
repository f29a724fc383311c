"""Score the engine on the real-case corpus: the figures a clinician would ask for.

Each case goes through the same path as ``footcds assess --local --json`` with only the
findings its source states. The interview is simulated as a tablet would run it: a finding
the source does not report is answered "I don't know" (kept unknown and not asked again),
never "no".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from footcds.v1 import common_pb2, differential_pb2

from services.cli.casefile import case_from_json
from services.cli.render import assessment_json
from services.differential.handlers import next_question
from services.pipeline.local import assess_local
from tests.clinical.realcases import RealCase, under_triage_steps

MAX_INTERVIEW_QUESTIONS = 30
RELIABILITY_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)
STATE_PB = {"present": common_pb2.EVIDENCE_STATE_PRESENT, "absent": common_pb2.EVIDENCE_STATE_ABSENT}


@dataclass(frozen=True)
class CaseOutcome:
    case: RealCase
    ranked: list[str]
    probabilities: dict[str, float]
    triage: str
    first_test: str
    interview_leader: str
    interview_questions: int

    @property
    def accepted(self) -> set[str]:
        return {self.case.expected.condition, *self.case.expected.acceptable}


def _assess(case_json: dict[str, Any]) -> dict[str, Any]:
    return assessment_json(assess_local(case_from_json(case_json)))


@dataclass(frozen=True)
class FirstContact:
    """What one assessment of a case file answers, as the CLI path gives it: the ranking with its
    probabilities, the triage level, the red-flag rules that fired and the first test."""

    ranked: list[str]
    probabilities: dict[str, float]
    triage: str
    rules: frozenset[str]
    first_test: str


def first_contact(case_json: dict[str, Any]) -> FirstContact:
    result = _assess(case_json)
    differential = result["differential"]
    return FirstContact(
        ranked=[c["condition"] for c in differential],
        probabilities={c["condition"]: c["probability"] for c in differential},
        triage=result["triage"]["level"],
        rules=frozenset(flag["rule"] for flag in result["triage"]["red_flags"]),
        first_test=result["tests"][0]["test"] if result["tests"] else "none_needed",
    )


def simulate_interview(case: RealCase) -> tuple[str, int]:
    """Ask NextQuestion as the tablet does, starting from where it is numb (the body map)."""
    truth = {f.id: f.state for f in case.evidence}
    start = {f: s for f, s in truth.items() if f.startswith("loc_") and s == "present"}
    known: dict[str, str] = dict(start) or dict(list(truth.items())[:1])
    dont_know: list[str] = []
    base = case.case_json()
    patient = case_from_json({"patient": base["patient"], "evidence": []}).patient
    asked = 0
    while asked < MAX_INTERVIEW_QUESTIONS:
        request = differential_pb2.NextQuestionRequest(
            patient=patient,
            evidence=[common_pb2.Evidence(finding_id=f, state=STATE_PB[s]) for f, s in known.items()],
            prioritize_dont_miss=True,
            exclude_finding_ids=dont_know,
        )
        answer = next_question(request)
        if answer.should_stop or not answer.finding_id:
            break
        asked += 1
        if answer.finding_id in truth:
            known[answer.finding_id] = truth[answer.finding_id]
        else:
            dont_know.append(answer.finding_id)
    result = _assess({"patient": base["patient"], "evidence": [{"id": f, "state": s} for f, s in known.items()]})
    return result["differential"][0]["condition"], asked


def run_case(case: RealCase) -> CaseOutcome:
    answer = first_contact(case.case_json())
    leader, asked = simulate_interview(case)
    return CaseOutcome(
        case=case,
        ranked=answer.ranked,
        probabilities=answer.probabilities,
        triage=answer.triage,
        first_test=answer.first_test,
        interview_leader=leader,
        interview_questions=asked,
    )


@dataclass
class RealCaseReport:
    outcomes: list[CaseOutcome] = field(default_factory=list)

    def _rate(self, hits: Iterable[bool], of: int | None = None) -> float:
        values = list(hits)
        return round(sum(values) / max(of if of is not None else len(values), 1), 4)

    def figures(self) -> dict[str, Any]:
        o = self.outcomes
        emergencies = [x for x in o if x.case.is_emergency]
        others = [x for x in o if not x.case.is_emergency]
        asked = [x.interview_questions for x in o]
        return {
            "cases": len(o),
            "top1": self._rate(x.ranked[0] == x.case.expected.condition for x in o),
            "top1_or_acceptable": self._rate(x.ranked[0] in x.accepted for x in o),
            "top3": self._rate(x.case.expected.condition in x.ranked[:3] for x in o),
            "top3_or_acceptable": self._rate(bool(x.accepted & set(x.ranked[:3])) for x in o),
            "triage_exact": self._rate(x.triage == x.case.expected.triage for x in o),
            "under_triage": sum(under_triage_steps(x.case.expected.triage, x.triage) > 0 for x in o),
            "under_triage_two_levels": sum(under_triage_steps(x.case.expected.triage, x.triage) >= 2 for x in o),
            "emergencies": len(emergencies),
            "emergency_sensitivity": self._rate(x.triage == "emergency" for x in emergencies),
            "non_emergencies_raised_to_emergency": self._rate(x.triage == "emergency" for x in others),
            "first_test_match": self._rate(x.first_test in x.case.expected.first_tests for x in o),
            "brier": round(self.brier(), 4),
            "interview_right_leader": self._rate(x.interview_leader in x.accepted for x in o),
            "interview_mean_questions": round(sum(asked) / max(len(asked), 1), 2),
            "interview_max_questions": max(asked, default=0),
        }

    def brier(self) -> float:
        """Multi-class Brier score of the differential against the source's final diagnosis."""
        total = 0.0
        for x in self.outcomes:
            truth = x.case.expected.condition
            conditions = set(x.probabilities) | {truth}
            total += sum((x.probabilities.get(c, 0.0) - (c == truth)) ** 2 for c in conditions)
        return total / max(len(self.outcomes), 1)

    def reliability(self) -> list[dict[str, Any]]:
        """By band of the leader's probability: how often the leader is the final diagnosis."""
        rows = []
        for low, high in zip(RELIABILITY_BANDS, RELIABILITY_BANDS[1:], strict=False):
            band = [x for x in self.outcomes if low <= x.probabilities[x.ranked[0]] < high]
            rows.append({
                "band": f"{low:.1f}-{min(high, 1.0):.1f}",
                "cases": len(band),
                "mean_leader_probability": round(
                    sum(x.probabilities[x.ranked[0]] for x in band) / max(len(band), 1), 3),
                "leader_correct": round(
                    sum(x.ranked[0] == x.case.expected.condition for x in band) / max(len(band), 1), 3),
            })
        return rows

    def misses(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"top-1 (not even acceptable)": [], "triage not exact": [],
                                     "under-triage": [], "first test": []}
        for x in self.outcomes:
            c, e = x.case, x.case.expected
            if x.ranked[0] not in x.accepted:
                out["top-1 (not even acceptable)"].append(f"{c.id}: expected {e.condition}, got {x.ranked[:3]}")
            if x.triage != e.triage:
                out["triage not exact"].append(f"{c.id}: expected {e.triage}, got {x.triage}")
            if under_triage_steps(e.triage, x.triage):
                out["under-triage"].append(f"{c.id}: expected {e.triage}, got {x.triage}")
            if x.first_test not in e.first_tests:
                out["first test"].append(f"{c.id}: expected one of {list(e.first_tests)}, got {x.first_test}")
        return out


def evaluate_cases(cases: Iterable[RealCase]) -> RealCaseReport:
    return RealCaseReport([run_case(c) for c in cases])


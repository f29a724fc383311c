"""`make eval`: the engine on real published cases (dev split) and the regression vignettes.

Accuracy is what the engine scores on the real-case corpus (tests/clinical/cases/, published
patients encoded blind, committed before the engine ran on them): top-1, top-1 or an
acceptable alternative, top-3, triage exact, under-triage, emergency sensitivity, emergencies
raised from non-emergencies, first-test match, Brier score and a reliability table, and a
tablet-style NextQuestion interview ("I don't know" for what the source does not report).
Tune on the dev split only; `make eval-locked` runs the locked third once and records it.
Later rounds (tests/clinical/cases/roundN/, written blind after the previous locked run) are
locked as a whole: `make eval-locked-roundN` runs one once on the engine tuned on what came
before. `--split tuning` scores dev plus every spent locked set (nothing recorded).

The team's own vignettes (tests/clinical/vignettes) were written in the knowledge base's own
terms: their figures are regression results for the engine's logic, not accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import yaml
from footcds.v1 import encounter_pb2

from services.cli.casefile import case_from_json
from services.cli.render import assessment_json
from services.differential.interview import next_question
from services.differential.ranking import default_model, posterior
from services.intake.domain import age_findings
from services.knowledge.clinical import Case, Patient, State
from services.pipeline.local import assess_local
from tests.clinical.real_eval import RealCaseReport, evaluate_cases
from tests.clinical.realcases import (
    CASE_DIR,
    LOCKED_LEDGER,
    LOCKED_SETS,
    ROUND_SPLITS,
    Split,
    cases_in,
    corpus_digest,
    locked_runs,
    under_triage_steps,
)

VIGNETTE_DIR = Path(__file__).parent / "vignettes"


HOLDOUT_MARK = "holdout"  # team-written "holdout" files: patched after their run, so regression too


def load_vignettes(
    directory: Path = VIGNETTE_DIR, *, holdout: bool | None = None
) -> list[dict[str, Any]]:
    """Every vignette, or only the holdout files (``holdout=True``) or only the others."""
    out: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        if holdout is not None and (HOLDOUT_MARK in path.stem) != holdout:
            continue
        out.extend(yaml.safe_load(path.read_text())["vignettes"])
    return out


def request_for(vignette: dict[str, Any]) -> encounter_pb2.AssessRequest:
    return case_from_json({"patient": vignette["patient"], "evidence": vignette["evidence"]})


@dataclass
class Report:
    total: int = 0
    top1: int = 0
    top3: int = 0
    triage_exact: int = 0
    under_triage: list[str] = field(default_factory=list)
    emergencies: int = 0
    emergencies_caught: int = 0
    first_test: int = 0
    misses: list[str] = field(default_factory=list)
    triage_misses: list[str] = field(default_factory=list)
    test_misses: list[str] = field(default_factory=list)
    interview_questions: list[int] = field(default_factory=list)
    interview_findings: list[int] = field(default_factory=list)
    interview_right: int = 0

    def figures(self) -> dict[str, Any]:
        n = max(self.total, 1)
        asked = self.interview_questions
        return {
            "vignettes": self.total,
            "top1": round(self.top1 / n, 4),
            "top3": round(self.top3 / n, 4),
            "triage_exact": round(self.triage_exact / n, 4),
            "under_triage": len(self.under_triage),
            "emergency_sensitivity": round(self.emergencies_caught / max(self.emergencies, 1), 4),
            "first_test_match": round(self.first_test / n, 4),
            "interview_right_leader": round(self.interview_right / n, 4),
            "interview_mean_questions": round(sum(asked) / max(len(asked), 1), 2),
            "interview_mean_findings_available": round(
                sum(self.interview_findings) / max(len(self.interview_findings), 1), 2
            ),
        }


def interview(vignette: dict[str, Any], max_questions: int = 25) -> tuple[str, int]:
    """Ask NextQuestion until it says stop; answers come from the vignette (absent if unlisted).

    As in the NextQuestion RPC, the intake first fills in what the age answers (``age_above``
    findings), so the interview never asks "are you over 50?" of a patient whose age it has.
    """
    model = default_model()
    truth = {e["id"]: State(e["state"]) for e in vignette["evidence"]}
    known = {f: s for f, s in truth.items() if f.startswith("loc_")} or dict(list(truth.items())[:1])
    p = vignette["patient"]
    patient = Patient(age=p.get("age"), sex=p.get("sex"))
    age_findings(model.kb, patient, known, {})
    asked = 0
    while asked < max_questions:
        choice = next_question(Case(patient, dict(known)), prioritize_dont_miss=True)
        if choice.should_stop or choice.finding_id is None:
            break
        known[choice.finding_id] = truth.get(choice.finding_id, State.ABSENT)
        asked += 1
    probs = posterior(Case(patient, known))
    return model.condition_ids[int(probs.argmax())], asked


def evaluate(vignettes: list[dict[str, Any]]) -> Report:
    report = Report()
    for v in vignettes:
        expected = v["expected"]
        accepted = {expected["condition"], *expected.get("acceptable", [])}
        result = assessment_json(assess_local(request_for(v)))
        ranked = [c["condition"] for c in result["differential"]]
        report.total += 1
        report.top1 += ranked[0] in accepted
        report.top3 += bool(accepted & set(ranked[:3]))
        if ranked[0] not in accepted:
            report.misses.append(f"{v['id']}: expected {expected['condition']}, got {ranked[:3]}")
        level = result["triage"]["level"]
        report.triage_exact += level == expected["triage"]
        if level != expected["triage"]:
            report.triage_misses.append(f"{v['id']}: expected {expected['triage']}, got {level}")
        if under_triage_steps(expected["triage"], level) > 0:
            report.under_triage.append(f"{v['id']}: expected {expected['triage']}, got {level}")
        if expected["triage"] == "emergency":
            report.emergencies += 1
            report.emergencies_caught += level == "emergency"
        first = result["tests"][0]["test"] if result["tests"] else "none_needed"
        if first == expected["first_test"]:
            report.first_test += 1
        else:
            report.test_misses.append(f"{v['id']}: expected {expected['first_test']}, got {first}")
        leader, asked = interview(v)
        report.interview_right += leader in accepted
        report.interview_questions.append(asked)
        report.interview_findings.append(len(default_model().finding_ids))
    return report


def _print(report: Report, heading: str) -> None:
    figures = report.figures()
    print(f"\n== {heading}")
    print(json.dumps(figures))
    print(f"\n{'figure':<34}value")
    for key, value in figures.items():
        print(f"{key:<34}{value}")
    for title, rows in (("misses (top-1)", report.misses), ("under-triage", report.under_triage),
                        ("triage not exact", report.triage_misses),
                        ("first-test misses", report.test_misses)):
        print(f"\n{title}: {len(rows)}")
        for row in rows:
            print(f"  {row}")


def _print_real(report: RealCaseReport, heading: str) -> None:
    figures = report.figures()
    print(f"\n== {heading}")
    print(json.dumps(figures))
    print(f"\n{'figure':<38}value")
    for key, value in figures.items():
        print(f"{key:<38}{value}")
    print("\nreliability (leader probability band -> how often the leader is the final diagnosis)")
    for row in report.reliability():
        print(f"  {row['band']}: {row['cases']:>3} cases, mean p {row['mean_leader_probability']:.3f},"
              f" correct {row['leader_correct']:.3f}")
    for title, rows in report.misses().items():
        print(f"\n{title}: {len(rows)}")
        for miss in rows:
            print(f"  {miss}")


# Each later round was written blind after the one before it, except round 13, written beside round 12 for the
# same run; the heading says so, and is made here rather than written out once per round.
_WRITTEN_BESIDE = {13: 12}


def _locked_heading(round_number: int) -> str:
    if round_number in _WRITTEN_BESIDE:
        written = f"beside round {_WRITTEN_BESIDE[round_number]}"
    else:
        written = f"after round {round_number - 1}"
    return f"real cases, round {round_number}, LOCKED as a whole (written blind {written}; run once)"


LOCKED_HEADINGS: dict[Split, str] = {
    "locked": "real cases, round 1 LOCKED split (run once; no knowledge change after it)",
    **{split: _locked_heading(n) for n, split in ROUND_SPLITS.items()},
}


def run_locked(split: Split, rerun_reason: str | None) -> int:
    """A locked set, once: the figures are recorded in the ledger as they come out."""
    digest = corpus_digest(LOCKED_SETS.get(split, CASE_DIR))
    earlier = [r for r in locked_runs() if r["corpus_digest"] == digest]
    if earlier and not rerun_reason:
        print(f"the {split} cases of corpus {digest} were already run on {earlier[0]['date']}: "
              "the figures are in tests/clinical/locked_runs.jsonl; pass --rerun-reason to run again",
              file=sys.stderr)
        return 2
    cases = cases_in(split)
    if not cases:
        print(f"no cases in the {split} set", file=sys.stderr)
        return 2
    from services.knowledge.loader import knowledge_base

    report = evaluate_cases(cases)
    heading = LOCKED_HEADINGS[split]
    if rerun_reason:
        heading = f"real cases, {split}: a RE-RUN (no longer unseen), because: {rerun_reason}"
    _print_real(report, heading)
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "split": split,
              "corpus_digest": digest, "kb_version": knowledge_base().version,
              "figures": report.figures(), "reliability": report.reliability(),
              "rerun_reason": rerun_reason}
    with LOCKED_LEDGER.open("a") as ledger:
        ledger.write(json.dumps(record) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=get_args(Split), default="dev")
    parser.add_argument("--rerun-reason", help="run the locked split again, recording why")
    parser.add_argument("--no-vignettes", action="store_true", help="skip the regression vignettes")
    args = parser.parse_args(argv)
    if args.split == "tuning":
        _print_real(evaluate_cases(cases_in("tuning")), "real cases, TUNING (dev + every spent locked set)")
        return 0
    if args.split != "dev":
        return run_locked(args.split, args.rerun_reason)
    _print_real(evaluate_cases(cases_in("dev")), "real cases, DEV split (tune on these only)")
    if not args.no_vignettes:
        _print(evaluate(load_vignettes()), "regression: the team's own vignettes (consistency, not accuracy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sensitivity analysis for the round-14 finding ids: the spent cases whose writers left the concept in ``unmapped``.

Why: no spent case uses the seven ids agreed with the round-14 writers (the case files are the published record and
are never edited), so their likelihood rows and rules can only be judged on clinical grounds, on vignettes and on
this: each spent case's ``unmapped`` free text is read with a few plain regular expressions, the ids it names are
added to an in-memory copy of the case, and the copy is assessed beside the case as written by the same
``first_contact`` path as the evaluation (no interview). Nothing is written back. A row or rule that makes the
augmented spent cases worse needs a second look (docs/knowledge-changes-round14-r14vocab.md).

The expressions are deliberately plain and listed here in full; a negation, a later-course finding, a relative's
finding or a past episode is dropped by ``NOT_NOW``. Unlike round 9's hand-curated list
(devtools.unmapped_counterfactual) the mapping is mechanical, so a reader can rerun it on any corpus.

    PYTHONPATH=.:gen python -m devtools.unmapped_sensitivity [--cases] [--round 16]

``--round 16`` runs the same analysis for the round-16 id ``hx_knee_dislocation`` (r16vocab). A regular expression
cannot tell a knee dislocation from a patellar one, or a multi-ligament injury from a sprain, so that list is curated
by hand from each case's text (``ROUND16_ADDED``; the cases read and left out are in
docs/knowledge-changes-round16-r16vocab.md).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tests.clinical.real_eval import first_contact
from tests.clinical.realcases import CaseFinding, RealCase, spent_cases, under_triage_steps

PATTERNS: dict[str, re.Pattern[str]] = {
    fid: re.compile(expr, re.IGNORECASE)
    for fid, expr in {
        "sx_unable_to_walk": r"\b(unable|inability|could not|cannot|can't|not able) to "
        r"(walk|stand|bear weight|ambulate)|non-?ambulatory|wheelchair|bed-?bound|bedridden",
        "sx_dark_urine": r"(dark|tea|cola|brown)[^;,]*urine|myoglobinuria",
        "sx_chest_or_abdominal_pain": r"chest pain|abdominal pain|between the shoulder blades|interscapular|flank pain",
        "ex_reduced_proprioception": r"propriocept|position sense",
        "hx_unaccustomed_exertion": r"unaccustomed|spinning|strenuous (workout|cycling session)"
        r"|intense (training|physical exertion)|vigorous exercise|weighted squats|onset after squatting"
        r"|after a plank|half-marathon|during marathon"
        r"|attributed to (exertion|overexertion)|recent increase in exercise",
        "hx_nitrous_oxide_use": r"nitrous oxide|\bn2o\b|whippe?ts?\b|whippits|laughing gas|cream chargers?",
        "hx_anticoagulant_or_bleeding_disorder": r"\bon (warfarin|an? anticoagulant|anticoagulant|apixaban"
        r"|rivaroxaban|dabigatran|heparin|enoxaparin)|anticoagulated (with|for a)|ha?emophilia|bleeding disorder"
        r"|coagulation disorder",
    }.items()
}
# Not the patient's finding at first contact: a negation, a preserved sign, a relative, a later or a past episode,
# a history only admitted after the work-up, nitrous oxide given as an anaesthetic, a test that cannot be done.
NOT_NOW = re.compile(
    r"^\s*(no|denied|denies|not|without)\b|\(no |\bpreserved|\bnormal\b|not stated|not known at first contact"
    r"|admitted only|ana?esthe|^\s*later\b|\bmother\b|\bfather\b|finished|after \d+ weeks|after one month"
    r"|at \d+ weeks|on (tip)?toes|tiptoe",
    re.IGNORECASE,
)
# Round 16, by hand: the spent cases whose text names a tibiofemoral knee dislocation (reduced or not) or a
# multi-ligament injury (both cruciates, or a cruciate plus a collateral / posterolateral corner) and whose writer
# recorded only hx_knee_injury_or_surgery. Case-id prefixes (``rc_g008``).
ROUND16_ADDED: dict[str, str] = {
    "hx_knee_dislocation": "g008 p014 ar003 ae014 ae016 an013 v015 m016 m017 ah016 at020 at021",
}
TALLIES = ("top1", "top3", "exact", "first", "under", "caught", "raised")


def added_ids(case: RealCase) -> list[str]:
    """The round-14 ids the writer described in ``unmapped`` and did not record (in vocabulary order)."""
    recorded = {f.id for f in case.evidence}
    hits = {fid for text in case.unmapped if not NOT_NOW.search(text)
            for fid, pattern in PATTERNS.items() if pattern.search(text)}
    return [fid for fid in PATTERNS if fid in hits and fid not in recorded]


def round16_ids(case: RealCase) -> list[str]:
    """The round-16 id(s) a hand reading of the case found described and not recorded."""
    prefix = "_".join(case.id.split("_")[:2])
    recorded = {f.id for f in case.evidence}
    return [fid for fid, cases in ROUND16_ADDED.items()
            if prefix in {f"rc_{short}" for short in cases.split()} and fid not in recorded]


MAPPINGS: dict[int, Callable[[RealCase], list[str]]] = {14: added_ids, 16: round16_ids}


def augmented(case: RealCase, extra: Iterable[str]) -> RealCase:
    """An in-memory copy of ``case`` with ``extra`` findings present (the case file is not touched)."""
    evidence = (*case.evidence, *(CaseFinding(id=f, state="present") for f in extra))
    return case.model_copy(update={"evidence": evidence})


@dataclass(frozen=True)
class Row:
    """What the evaluation scores for one case: the leaders, the triage level and the first test."""

    top3: tuple[str, ...]
    triage: str
    first: str

    @classmethod
    def of(cls, case: RealCase) -> Row:
        answer = first_contact(case.case_json())
        return cls(tuple(answer.ranked[:3]), answer.triage, answer.first_test)

    def tally(self, case: RealCase) -> dict[str, int]:
        expected = case.expected
        emergency = self.triage == "emergency"
        return {
            "top1": self.top3[0] == expected.condition,
            "top3": expected.condition in self.top3,
            "exact": self.triage == expected.triage,
            "first": self.first in expected.first_tests,
            "under": under_triage_steps(expected.triage, self.triage) > 0,
            "caught": emergency and case.is_emergency,
            "raised": emergency and not case.is_emergency,
        }


def run(show_cases: bool, vocabulary_round: int = 14) -> dict[str, Any]:
    """Per spent round: the figures of the cases with a mapped concept, as written and augmented."""
    mapping = MAPPINGS[vocabulary_round]
    rounds: dict[str, dict[str, Any]] = {}
    for case in spent_cases():
        extra = mapping(case)
        if not extra:
            continue
        before, after = Row.of(case), Row.of(augmented(case, extra))
        for key in (str(case.corpus_round), "all"):
            r = rounds.setdefault(key, {"cases": 0, "emergencies": 0, "emergencies_lost": 0,
                                        "before": dict.fromkeys(TALLIES, 0), "after": dict.fromkeys(TALLIES, 0)})
            r["cases"] += 1
            r["emergencies"] += case.is_emergency
            r["emergencies_lost"] += case.is_emergency and before.triage == "emergency" != after.triage
            for side, row in (("before", before), ("after", after)):
                for name, hit in row.tally(case).items():
                    r[side][name] += hit
        if show_cases and before != after:
            print(f"{case.id} r{case.corpus_round} +{','.join(extra)} expected {case.expected.triage} "
                  f"{case.expected.condition} | {before.triage} {list(before.top3)} {before.first} -> "
                  f"{after.triage} {list(after.top3)} {after.first}")
    return dict(sorted(rounds.items(), key=lambda kv: (kv[0] == "all", int(kv[0]) if kv[0].isdigit() else 0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", action="store_true", help="print every case whose answer changes")
    parser.add_argument("--round", type=int, choices=sorted(MAPPINGS), default=14,
                        help="whose agreed ids to map: round 14 (regular expressions) or 16 (curated by hand)")
    args = parser.parse_args()
    for key, figures in run(args.cases, args.round).items():
        print(json.dumps({"round": key, **figures}))


if __name__ == "__main__":
    main()

"""The round-9 finding ids on the spent cases whose writers left the same concept in ``unmapped``.

Why: no spent case uses the five ids agreed for round 9 (the case files are the published record and
are never edited), so their rows and rules can only be judged on clinical grounds, on vignettes and
on this counterfactual: each listed case is assessed as written and again with the id added, by the
same ``assess_local`` path as the evaluation. The list was curated by hand from the ``unmapped``
text (docs/knowledge-changes-round9-r9kb.md): negations ("no palpable mass", "negative Romberg",
"arms spared"), later-course findings and a palpable *pulse* are left out.

    PYTHONPATH=.:gen python -m devtools.unmapped_counterfactual
"""

from __future__ import annotations

import json
from typing import Any

from services.cli.casefile import case_from_json
from services.cli.render import assessment_json
from services.pipeline.local import assess_local
from tests.clinical.realcases import TRIAGE_ORDER, RealCase, spent_cases

ADDED: dict[str, str] = {
    "ex_palpable_mass": "a019 b045 f022 g032 j011 m021 m023 m024 p015 s009 t004 v012 y010 y011 y023",
    "sx_arm_weakness": "c003 c008 d024 f002 f005 f012 f016 f028 i003 i006 i022 l017 m003 n015 o004 o021 q009 q018 "
    "q022 r007 r012 w016 w017 x003 z009 z010",
    "hx_cancer": "b028 c016 c017 c039 f016 h027 l012 l013 n023 v005 v006 v013 v017 w015",
    "hx_vasoconstrictor_drug": "o001 p004 z005 z006",
    "ex_positive_romberg": "d001 h004 h005 t011 t016 w008",
}


def additions() -> dict[str, list[str]]:
    """Case-id prefix (``rc_a019``) -> the round-9 ids its writer described but could not map."""
    out: dict[str, list[str]] = {}
    for finding, cases in ADDED.items():
        for short in cases.split():
            out.setdefault(f"rc_{short}", []).append(finding)
    return out


def short_id(case: RealCase) -> str:
    """The id without its slug (``rc_a019``, ``rc_aa019``): what ``additions`` is keyed by."""
    return "_".join(case.id.split("_")[:2])


def assess(case: RealCase, extra: list[str]) -> dict[str, Any]:
    """The engine's answer to the case as written plus ``extra`` findings present (``--local``)."""
    body = case.case_json()
    evidence = [{"id": f.id, "state": f.state} for f in case.evidence]
    known = {f.id for f in case.evidence}
    evidence += [{"id": f, "state": "present"} for f in extra if f not in known]
    result = assessment_json(assess_local(case_from_json({"patient": body["patient"], "evidence": evidence})))
    return {
        "triage": result["triage"]["level"],
        "top3": [c["condition"] for c in result["differential"]][:3],
        "first": result["tests"][0]["test"] if result["tests"] else "none_needed",
    }


def main() -> None:
    """Print the figures of the listed spent cases as written and with their unmapped concept as its id."""
    added = additions()
    keys = ("exact", "top1", "top3", "first", "under", "caught", "raised")
    before = dict.fromkeys(keys, 0)
    after = dict.fromkeys(keys, 0)
    counts = {"cases": 0, "emergencies": 0}
    for case in spent_cases():
        prefix = short_id(case)
        if prefix not in added:
            continue
        expected = case.expected
        counts["cases"] += 1
        counts["emergencies"] += expected.triage == "emergency"
        rows = (assess(case, []), assess(case, added[prefix]))
        for tally, row in zip((before, after), rows, strict=True):
            tally["exact"] += row["triage"] == expected.triage
            tally["top1"] += row["top3"][0] == expected.condition
            tally["top3"] += expected.condition in row["top3"]
            tally["first"] += row["first"] in expected.first_tests
            tally["under"] += TRIAGE_ORDER.index(row["triage"]) > TRIAGE_ORDER.index(expected.triage)
            emergency = row["triage"] == "emergency"
            tally["caught" if expected.triage == "emergency" else "raised"] += emergency
        if rows[0] != rows[1]:
            print(
                case.id,
                f"round {case.corpus_round}",
                "+" + ",".join(added[prefix]),
                "expected",
                expected.triage,
                expected.condition,
                "|",
                rows[0],
                "->",
                rows[1],
            )
    print(json.dumps({**counts, "before": before, "after": after}))


if __name__ == "__main__":
    main()

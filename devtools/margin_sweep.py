"""The correction's emergency margin, held out, per ``emergency_weight``: what each weight buys and costs.

Why: round 11 chose ``CorrectionParams.emergency_weight`` as the smallest weight whose held-out figures pass
the gates of tests/test_one_posterior.py; each newly spent round can move that choice, so the sweep is one
command, run over every spent round (nested leave-one-round-out, both layers refitted per held-out round,
the thresholds as filed). One JSON line per weight; 0 (the plain fit) is always included as the reference.

    PYTHONPATH=.:gen python -m devtools.margin_sweep 0.3 0.5 0.7 0.9 1.1 1.5
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from devtools.casefit import FitParams
from devtools.correction_fit import CorrectionParams
from devtools.cv_posterior import Row, Thresholds, evaluate, file_thresholds, held_out_rows_many
from services.differential.ranking import compile_model
from services.knowledge.loader import KnowledgeBase, load_knowledge_base
from tests.clinical import realcases


def rounds_worse_than(base: KnowledgeBase, ids: Sequence[str], rows: Sequence[Row], reference: Sequence[Row],
                      thresholds: Thresholds) -> list[int]:
    """The rounds where ``rows`` catch fewer emergencies or under-triage more cases than ``reference``
    (the same held-out cases under another correction), both read on the shown posterior."""
    worse: list[int] = []
    for r in sorted({row.case.corpus_round for row in reference}):
        a = evaluate(base, ids, [row for row in rows if row.case.corpus_round == r], thresholds, one=True)
        b = evaluate(base, ids, [row for row in reference if row.case.corpus_round == r], thresholds, one=True)
        if a["emergencies_caught"] < b["emergencies_caught"] or a["under_triage"] > b["under_triage"]:
            worse.append(r)
    return worse


def main(argv: list[str]) -> None:
    weights = sorted({0.0, *(float(w) for w in argv)})
    base = load_knowledge_base(fitted=False, corrected=False)
    ids = list(compile_model(base).condition_ids)
    thresholds = file_thresholds(base)
    committed = CorrectionParams()
    per_weight = held_out_rows_many(base, realcases.spent_cases(), FitParams(),
                                    [replace(committed, emergency_weight=w) for w in weights])
    plain = per_weight[0]
    for weight, rows in zip(weights, per_weight, strict=True):
        total = evaluate(base, ids, rows, thresholds, one=True)
        worse = rounds_worse_than(base, ids, rows, plain, thresholds)
        print(json.dumps({"emergency_weight": weight, "committed": weight == committed.emergency_weight,
                          "top1": total["top1"], "top3": total["top3"],
                          "emergencies_caught": total["emergencies_caught"], "under_triage": total["under_triage"],
                          "raised": total["raised"], "rounds_worse_than_plain": worse}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Why a condition ranks where it does: evidence for and against, and decisive findings.

Kept apart from the ranking arithmetic: explanations are only built for answers a person
reads (single cases, explained batches); the screening fast path skips them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.differential.model import (
    DECISIVE_PER_CONDITION,
    EXPLAINED_PER_CONDITION,
    Array,
    RankingModel,
    counted_evidence,
)
from services.knowledge.clinical import (
    Case,
    CitationRef,
    State,
    Weight,
)
from services.knowledge.loader import KnowledgeBase


def _citations(kb: KnowledgeBase, keys: Sequence[str]) -> tuple[CitationRef, ...]:
    return tuple(CitationRef(k, kb.sources[k].title) for k in keys)


Explanation = tuple[tuple[Weight, ...], tuple[Weight, ...], tuple[str, ...]]


@dataclass(frozen=True)
class ExplainTables:
    """What explaining a condition reads, compiled once per model.

    Columns ``[0, F)`` are a finding present, ``[F, 2F)`` absent.  ``rounded`` holds
    ``round(llr, 3)`` (Python's rounding, computed once per cell, so the weights are the
    same floats as the plain per-condition oracle in tests/test_fast_paths.py); ``shown`` marks ``|llr| >= 0.05``.
    """

    rounded: dict[str, Array]  # setting -> [C, 2F]
    shown: dict[str, npt.NDArray[np.bool_]]  # setting -> [C, 2F]
    swing: dict[str, Array]  # setting -> [C, F]: |llr present| + |llr absent|
    labels: tuple[str, ...]  # per finding
    stand_in_columns: tuple[int, ...]
    # Per condition: the fields of ``ScoredCondition`` that depend only on the condition.
    statics: tuple[tuple[str, str, tuple[str, ...], str | None, bool, bool, str], ...]
    citations: tuple[tuple[CitationRef, ...], ...]


_EXPLAIN: dict[int, tuple[RankingModel, ExplainTables]] = {}


def explain_tables(model: RankingModel) -> ExplainTables:
    """The model's ``ExplainTables`` (kept with the model, which pins its id)."""
    held = _EXPLAIN.get(id(model))
    if held is not None and held[0] is model:
        return held[1]
    kb = model.kb
    rounded: dict[str, Array] = {}
    shown: dict[str, npt.NDArray[np.bool_]] = {}
    swing: dict[str, Array] = {}
    for setting in model.llr_present:
        both = np.hstack([model.llr_present[setting], model.llr_absent[setting]])
        rounded[setting] = np.array([[round(x, 3) for x in row] for row in both.tolist()])
        shown[setting] = np.abs(both) >= 0.05
        swing[setting] = np.abs(model.llr_present[setting]) + np.abs(model.llr_absent[setting])
    conditions = [kb.conditions[c] for c in model.condition_ids]
    tables = ExplainTables(
        rounded=rounded,
        shown=shown,
        swing=swing,
        labels=tuple(kb.findings[f].label for f in model.finding_ids),
        stand_in_columns=tuple(model.finding_index[f] for f in model.age_stand_ins),
        statics=tuple(
            (c.id, c.label, tuple(c.icd10cm), c.snomed, c.emergency, c.dont_miss, c.specialist)
            for c in conditions
        ),
        citations=tuple(_citations(kb, c.citations) for c in conditions),
    )
    if len(_EXPLAIN) < 64:  # bounded: one model in practice
        _EXPLAIN[id(model)] = (model, tables)
    return tables


def forget_explain_tables(model: RankingModel) -> None:
    """Drop ``model``'s tables: for callers that compile many short-lived models (the
    cross-validation search), whose cached tables would pin every model in memory."""
    _EXPLAIN.pop(id(model), None)


def _explanations(
    model: RankingModel, tables: ExplainTables, case: Case, setting: str, explained: list[int]
) -> list[Explanation]:
    """Evidence for/against and decisive findings for several conditions at once (tests/test_fast_paths.py
    checks it against a plain per-condition oracle).

    Stable sorts over the evidence in its dict order keep ``sorted``'s ties; the decisive
    findings use the same (default) ``argsort`` on the same rows.
    """
    f = len(model.finding_ids)
    index = model.finding_index
    fids: list[str] = []
    states: list[State] = []
    columns: list[int] = []
    for fid, state in counted_evidence(model, case).items():
        if state is State.PRESENT:
            columns.append(index[fid])
        elif state is State.ABSENT:
            columns.append(index[fid] + f)
        else:
            continue
        fids.append(fid)
        states.append(state)
    labels = tables.labels
    rows = np.array(explained, dtype=np.intp)[:, None]
    cols = np.array(columns, dtype=np.intp)
    rounded = tables.rounded[setting][rows, cols]
    shown = tables.shown[setting][rows, cols]
    support_key = np.where(shown & (rounded > 0), -rounded, np.inf)
    against_key = np.where(shown & (rounded < 0), rounded, np.inf)
    n = EXPLAINED_PER_CONDITION
    support_top = np.argsort(support_key, axis=1, kind="stable")[:, :n].tolist()
    against_top = np.argsort(against_key, axis=1, kind="stable")[:, :n].tolist()
    support_n = np.minimum(np.isfinite(support_key).sum(axis=1), n).tolist()
    against_n = np.minimum(np.isfinite(against_key).sum(axis=1), n).tolist()
    values = rounded.tolist()

    known = [index[fid] for fid, s in case.evidence.items() if s is not State.UNKNOWN]
    if case.patient.age is not None:  # a known age answers its stand-in finding
        known += tables.stand_in_columns
    swing = tables.swing[setting][rows[:, 0]]
    swing[:, known] = -1.0
    top = np.argsort(-swing, axis=1)[:, :DECISIVE_PER_CONDITION]
    top_ids = top.tolist()
    top_positive = (np.take_along_axis(swing, top, axis=1) > 0).tolist()
    finding_ids = model.finding_ids

    out: list[Explanation] = []
    for k in range(len(explained)):
        row = values[k]
        out.append(
            (
                tuple(
                    Weight(fids[j], labels[columns[j] % f], states[j], row[j])
                    for j in support_top[k][: support_n[k]]
                ),
                tuple(
                    Weight(fids[j], labels[columns[j] % f], states[j], row[j])
                    for j in against_top[k][: against_n[k]]
                ),
                tuple(
                    finding_ids[i]
                    for i, positive in zip(top_ids[k], top_positive[k], strict=True)
                    if positive
                ),
            )
        )
    return out

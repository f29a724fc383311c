"""A batch of cases as [N, F] masks and [N, C] rows, built across cases at once (issue 15).

Why its own module: ranking 10k cases must cost a small multiple of the bare NumPy
arithmetic (docs/performance.md), so nothing here runs Python per finding per case beyond
gathering each case's evidence keys and states (C-level ``extend`` / ``map``).  Which
findings count (``model.counted_evidence``: a known age drops its stand-in findings, each
implication chain counts once) is decided on the masks.  The masks are exactly those a
case-by-case ``counted_evidence`` pass gives (``tests/test_batch_arrays.py`` compares them
on thousands of cases), so the sums the ranking computes from them are unchanged to the
last bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import attrgetter, methodcaller

import numpy as np
import numpy.typing as npt

from services.differential.model import MAX_AGE, Array, RankingModel
from services.knowledge.clinical import Case, EvidenceColumns, Patient, State

Mask = npt.NDArray[np.bool_]

_PATIENT = attrgetter("patient")
_EVIDENCE = attrgetter("evidence")
_COLUMNS = attrgetter("columns")
_VOCABULARY = attrgetter("vocabulary")
_CODES = attrgetter("codes")
_ITEMS = methodcaller("items")
_SETTING = attrgetter("setting")
_AGE = attrgetter("age")
_SEX = attrgetter("sex")
_STATE_CODE: dict[str, int] = {State.UNKNOWN: 0, State.PRESENT: 1, State.ABSENT: 2}


def case_masks(cases: Sequence[Case], model: RankingModel) -> tuple[Array, tuple[Mask, Mask], tuple[Mask, Mask]]:
    """The log prior rows [N, C]; counted present / absent [N, F]; known present / absent
    [N, F] (every known finding: hallmarks read those)."""
    (distinct, which), counted, known = case_parts(cases, model)
    out: Array = distinct[which]
    return out, counted, known


def case_parts(
    cases: Sequence[Case], model: RankingModel
) -> tuple[tuple[Array, npt.NDArray[np.intp]], tuple[Mask, Mask], tuple[Mask, Mask]]:
    """``case_masks`` with the prior rows as ``base_parts`` (distinct rows, each case's row)."""
    patients: list[Patient] = list(map(_PATIENT, cases))
    known = known_masks(model, cases)
    return base_parts(model, patients), counted_masks(model, patients, *known), known


def as_float(masks: tuple[Mask, Mask]) -> tuple[Array, Array]:
    """0/1 float64 matrices (the fit's and the tests' operands; the ranking reads the masks)."""
    return masks[0].astype(np.float64), masks[1].astype(np.float64)


def base_rows(model: RankingModel, patients: Sequence[Patient]) -> Array:
    """[N, C] log prior + age + sex modifier: per row what ``model._log_base`` adds, in the
    same order (prior, then age, then sex; an unknown age or sex adds an all-zero row)."""
    distinct, which = base_parts(model, patients)
    out: Array = distinct[which]
    return out


def base_parts(model: RankingModel, patients: Sequence[Patient]) -> tuple[Array, npt.NDArray[np.intp]]:
    """``base_rows`` as its distinct rows [U, C] and each case's row among them [N].

    Why: a batch has few (setting, age, sex) triples (a few hundred at most), so the rows and
    anything computed per row from them alone (the "other" leak's listed-prior normalizer,
    ``model.base_listed_lse``) are computed once per triple; each row is the same sum as
    computed for every case (elementwise, in the same order), so the values are the same.
    """
    n, c = len(patients), len(model.condition_ids)
    setting_row = {s: i for i, s in enumerate(model.log_prior)}
    sex_row: dict[str | None, int] = {s: i for i, s in enumerate(model.log_sex)}
    no_age, no_sex = MAX_AGE + 1, len(sex_row)
    settings = np.fromiter(map(setting_row.__getitem__, map(_SETTING, patients)), np.intp, n)
    # None becomes NaN; a known age is an int, exact as a float64 (clamped as _log_base does).
    ages = np.array(list(map(_AGE, patients)), dtype=np.float64).reshape(n)
    age_rows = np.full(n, no_age, dtype=np.intp)
    known_age = ~np.isnan(ages)
    age_rows[known_age] = np.clip(ages[known_age], 0, MAX_AGE).astype(np.intp)
    default = [no_sex] * n
    sexes = np.fromiter(map(sex_row.get, map(_SEX, patients), default), np.intp, n)
    zero = np.zeros((1, c))
    ages_n, sexes_n = MAX_AGE + 2, no_sex + 1
    key = (settings * ages_n + age_rows) * sexes_n + sexes
    seen = np.zeros(len(setting_row) * ages_n * sexes_n, dtype=np.bool_)
    seen[key] = True
    keys = np.flatnonzero(seen)
    position = np.zeros(seen.shape[0], dtype=np.intp)
    position[keys] = np.arange(keys.shape[0], dtype=np.intp)
    key_sex = keys % sexes_n
    key_age = (keys // sexes_n) % ages_n
    key_setting = keys // (sexes_n * ages_n)
    distinct: Array = (
        np.stack(list(model.log_prior.values()))[key_setting]
        + np.vstack([model.log_age, zero])[key_age]
        + np.vstack([*model.log_sex.values(), zero])[key_sex]
    )
    return distinct, position[key]


def known_masks(model: RankingModel, cases: Sequence[Case]) -> tuple[Mask, Mask]:
    """[N, F] present / absent masks of every known finding, from one flat gather.

    From the cases' column codes when every case carries them for the model's findings (what
    the intake's ``validate`` returns), else from their evidence dicts: the same masks.
    """
    coded = column_masks(model, cases)
    if coded is not None:
        return coded
    evidences = list(map(_EVIDENCE, cases))
    counts = list(map(len, evidences))
    n, f, total = len(cases), len(model.finding_ids), sum(counts)
    items = chain.from_iterable(map(_ITEMS, evidences))
    cell = np.fromiter(map(_cells(model).__getitem__, items), np.intp, total)
    rows = np.repeat(np.arange(n, dtype=np.intp), counts)
    code = (cell & 3).astype(np.int8)
    known = code != 0  # unknowns written nowhere (an unknown id has no column of its own)
    if not known.all():
        rows, cell, code = rows[known], cell[known], code[known]
    cells = np.zeros((n, f), dtype=np.int8)
    cells[rows, cell >> 2] = code
    return cells == 1, cells == 2


def column_masks(model: RankingModel, cases: Sequence[Case]) -> tuple[Mask, Mask] | None:
    """``known_masks`` from ``Case.columns``; None unless every case has them for the model.

    Why: no Python per evidence entry - one bytes join, one scatter into an [N, 2, F] block
    (each case's present row, then its absent row: a code is the flat offset within its row
    pair as it is; measured faster overall than two contiguous [N, F] halves).
    """
    try:
        columns: list[EvidenceColumns] = list(map(_COLUMNS, cases))
        vocabularies = list(map(_VOCABULARY, columns))  # AttributeError: a case without columns
    except AttributeError:
        return None
    findings = model.finding_ids
    if vocabularies.count(findings) != len(vocabularies):  # identity first, then equality
        return None
    n, f = len(cases), len(findings)
    blobs = list(map(_CODES, columns))
    codes = np.frombuffer(b"".join(blobs), dtype=np.int16).astype(np.intp)
    counts = np.fromiter(map(len, blobs), np.intp, n) // 2
    rows = np.repeat(np.arange(0, 2 * n * f, 2 * f, dtype=np.intp), counts)
    known = codes >= 0  # an unknown finding (-1) is written nowhere
    if not known.all():
        rows, codes = rows[known], codes[known]
    block = np.zeros(2 * n * f, dtype=np.bool_)
    block[rows + codes] = True
    halves: Mask = block.reshape(n, 2, f)
    return halves[:, 0], halves[:, 1]


class _Cells(dict[tuple[str, str], int]):
    """(finding id, state) -> column * 4 + state code (0 unknown, 1 present, 2 absent).

    An unknown finding id is tolerated while its state is unknown (a case-by-case pass never
    looks it up) and refused as the finding index refuses it otherwise."""

    def __missing__(self, key: tuple[str, str]) -> int:
        finding, state = key
        if _STATE_CODE.get(state, -1) == 0:
            return 0
        raise KeyError(finding)


_CELLS: dict[int, tuple[RankingModel, _Cells]] = {}


def _cells(model: RankingModel) -> _Cells:
    held = _CELLS.get(id(model))
    if held is not None and held[0] is model:
        return held[1]
    cells = _Cells(
        ((finding, state), column * 4 + code)
        for finding, column in model.finding_index.items()
        for state, code in _STATE_CODE.items()
    )
    if len(_CELLS) < 64:  # bounded: one model in practice
        _CELLS[id(model)] = (model, cells)
    return cells


def counted_masks(model: RankingModel, patients: Sequence[Patient], present: Mask, absent: Mask) -> tuple[Mask, Mask]:
    """``counted_evidence`` on masks: a known age drops the age stand-ins (before the chains,
    as there); a finding entailed by a present finding (an ancestor) or entailing an absent
    one (a descendant) is not counted."""
    index = model.finding_index
    if model.age_stand_ins:
        aged = np.array([p.age is not None for p in patients], dtype=np.bool_)
        if aged.any():
            stand_ins = [index[f] for f in sorted(model.age_stand_ins)]
            present, absent = present.copy(), absent.copy()
            for col in stand_ins:
                present[aged, col] = False
                absent[aged, col] = False
    graph = model.implications
    if graph is None:
        return present, absent
    covered: Mask = np.zeros_like(present)
    for lines, known in ((graph.ancestors, present), (graph.descendants, absent)):
        for finding, others in lines.items():
            column = known[:, index[finding]]
            if column.any():
                covered[:, [index[o] for o in sorted(others)]] |= column[:, None]
    return present & ~covered, absent & ~covered


def hallmark_applies(model: RankingModel, present: Mask, absent: Mask) -> Mask:
    """[N, C]: the condition has hallmarks, none is present and not all are absent.

    What ``ranking.hallmark_log_factor`` asks of its hallmark counts (hits == 0, ruled out <
    count), as bit tests on each case's hallmark findings packed into 64-bit words: no
    matrix product, whose BLAS threads cost more than the arithmetic at this size.  Only the
    conditions that have hallmarks (26 of 35) are tested (0.4 of 3 ms per 10k less); packing only
    the hallmark findings was measured slower (the column gathers cost more than they save).
    """
    marks = model.hallmark
    if marks is None:
        return np.zeros((present.shape[0], len(model.condition_ids)), dtype=np.bool_)
    words = (marks.shape[0] + 63) // 64 or 1

    def packed(rows: Mask) -> npt.NDArray[np.uint64]:
        """Each row's findings as bits (packing whole contiguous rows is the fast case)."""
        bits = np.packbits(rows, axis=-1, bitorder="little")
        out = np.zeros((rows.shape[0], words * 8), dtype=np.uint8)
        out[:, : bits.shape[1]] = bits
        return out.view(np.uint64)

    with_marks = np.flatnonzero(marks.any(axis=0))  # only the conditions that have hallmarks
    condition_marks = packed(np.ascontiguousarray(marks[:, with_marks].T > 0))  # [K, W]
    present_bits, absent_bits = packed(present), packed(absent)  # [N, W]
    hit: Mask | None = None
    all_absent: Mask | None = None
    for w in range(words):
        mark = condition_marks[:, w]
        word_hit = (present_bits[:, w, None] & mark) != 0
        word_absent = (absent_bits[:, w, None] & mark) == mark
        hit = word_hit if hit is None else hit | word_hit
        all_absent = word_absent if all_absent is None else all_absent & word_absent
    assert hit is not None and all_absent is not None
    out: Mask = np.zeros((present.shape[0], len(model.condition_ids)), dtype=np.bool_)
    out[:, with_marks] = ~(hit | all_absent)
    return out

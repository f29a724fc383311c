"""Cases carrying their evidence as column codes (``Case.columns``) rank exactly as dicts do.

The intake's ``validate`` encodes every case it returns (``with_columns``), so a ranking batch
reads bytes instead of dicts (issue 15).  These tests hold that the codes give the same masks
and the same posterior bits as the evidence dicts, that a batch falls back to the dicts when
any case lacks codes for the model's findings, and that codes cannot drift from the evidence.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services.differential import ranking
from services.differential.batch_arrays import column_masks, known_masks
from services.differential.model import default_model
from services.intake import domain as intake_domain
from services.knowledge.clinical import Case, Patient, State, with_columns
from services.knowledge.loader import knowledge_base
from tests.test_batch_arrays import varied_cases


def coded(cases: list[Case]) -> list[Case]:
    findings = default_model().finding_ids
    return [with_columns(c, findings) for c in cases]


def test_column_codes_give_the_dict_masks_and_posterior_bits() -> None:
    model = default_model()
    plain = varied_cases(model)  # unknown states, stand-ins, an unknown id left unknown, empty evidence
    codes = coded(plain)
    by_columns = column_masks(model, codes)
    assert by_columns is not None
    for mine, theirs in zip(by_columns, known_masks(model, plain), strict=True):
        assert mine.shape == theirs.shape and np.array_equal(mine, theirs)
    assert ranking.posterior_batch(codes, model).tobytes() == ranking.posterior_batch(plain, model).tobytes()
    ranked = ranking.rank_batch(codes[:300], model)
    assert ranked == ranking.rank_batch(plain[:300], model)


def test_a_batch_with_any_case_lacking_codes_reads_the_dicts() -> None:
    model = default_model()
    plain = varied_cases(model)[:400]
    mixed = coded(plain)
    mixed[17] = plain[17]
    assert column_masks(model, mixed) is None
    assert ranking.posterior_batch(mixed, model).tobytes() == ranking.posterior_batch(plain, model).tobytes()


def test_codes_of_another_finding_vocabulary_are_not_used() -> None:
    model = default_model()
    plain = varied_cases(model)[:200]
    reordered = tuple(reversed(model.finding_ids))
    other = [with_columns(c, reordered) for c in plain]
    assert column_masks(model, other) is None
    assert ranking.posterior_batch(other, model).tobytes() == ranking.posterior_batch(plain, model).tobytes()
    # an equal vocabulary that is another tuple object is the same vocabulary
    equal = [with_columns(c, tuple(list(model.finding_ids))) for c in plain]
    assert column_masks(model, equal) is not None


def test_validate_returns_a_coded_case_that_ranks_as_its_evidence() -> None:
    kb = knowledge_base()
    model = default_model()
    items = [
        intake_domain.EvidenceInput(fid, state)
        for fid, state in zip(model.finding_ids[:12], [State.PRESENT, State.ABSENT, State.UNKNOWN] * 4, strict=True)
    ]
    cases = [intake_domain.validate(kb, Patient(age=age, sex="female"), items) for age in (None, 30, 70)]
    assert len(cases[1].evidence) > len(items)  # an age stand-in derived by validate is coded too
    for case in cases:
        assert case.columns is not None and case.columns.vocabulary is kb.finding_ids
        plain = Case(case.patient, dict(case.evidence))
        assert plain == case  # the codes are not part of equality
        assert plain.columns is None
    got = ranking.posterior_batch(cases, model).tobytes()
    assert got == ranking.posterior_batch([Case(c.patient, dict(c.evidence)) for c in cases], model).tobytes()


def test_replacing_the_evidence_drops_the_codes() -> None:
    case = coded([Case(Patient(age=40), {default_model().finding_ids[0]: State.PRESENT})])[0]
    assert case.columns is not None
    changed = dataclasses.replace(case, evidence={default_model().finding_ids[1]: State.ABSENT})
    assert changed.columns is None
    assert ranking.posterior_batch([changed]).tobytes() == ranking.posterior_batch(
        [Case(changed.patient, changed.evidence)]
    ).tobytes()


def test_a_known_state_of_a_finding_outside_the_vocabulary_is_refused() -> None:
    findings = default_model().finding_ids
    with pytest.raises(KeyError, match="not_a_finding"):
        with_columns(Case(Patient(), {"not_a_finding": State.ABSENT}), findings)
    with pytest.raises(KeyError, match=findings[2]):
        with_columns(Case(Patient(), {findings[2]: "maybe"}), findings)  # type: ignore[dict-item]
    unknowns = {"not_a_finding": State.UNKNOWN, findings[3]: State.UNKNOWN, findings[4]: State.PRESENT}
    left_out = with_columns(Case(Patient(), unknowns), findings)
    masks = column_masks(default_model(), [left_out])
    assert masks is not None
    assert np.flatnonzero(masks[0][0]).tolist() == [4] and not masks[1].any()  # only the known finding

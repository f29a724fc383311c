"""Clinical-quality checks on the knowledge base that a clinician or a coder would notice.

Codes an EHR can bill, likelihoods that do not contradict each other, and age counted once
(the age modifiers when the age is known, the "over 50" stand-in only when it is not).
"""

from __future__ import annotations

import numpy as np
import pytest
import simple_icd_10_cm as icd

from services.differential.ranking import default_model, posterior, posterior_batch, rank
from services.intake.domain import EvidenceInput, normalize
from services.knowledge.clinical import Case, Patient, State
from services.knowledge.loader import knowledge_base
from services.platform.errors import InvalidInput

P, A = State.PRESENT, State.ABSENT
CLAUDICANT = {"loc_calf": P, "sx_cramping_calf": P, "relieved_by_rest": P, "hx_smoking": P}


def test_every_icd10cm_code_is_billable() -> None:
    """A billable code is a leaf of the code set: no longer code starts with it."""
    for condition in knowledge_base().conditions.values():
        for code in condition.icd10cm:
            assert icd.is_valid_item(code) and icd.is_leaf(code), (condition.id, code)


# (a, b): a finding that implies another is never more likely than it, for any condition.
IMPLIES = [
    ("symmetric", "bilateral"),  # symmetric numbness is in both feet
    ("loc_stocking_distribution", "symmetric"),
    ("sx_foot_drop", "sx_weakness"),
    ("ex_absent_reflexes", "ex_reduced_ankle_reflex"),  # areflexia includes the ankle jerk
]


@pytest.mark.parametrize(("a", "b"), IMPLIES, ids=[f"{a}->{b}" for a, b in IMPLIES])
def test_an_implied_finding_is_at_least_as_likely(a: str, b: str) -> None:
    model = default_model()
    ia, ib = model.finding_index[a], model.finding_index[b]
    bad = [c for ci, c in enumerate(model.condition_ids) if model.p[ci, ia] > model.p[ci, ib]]
    assert not bad


def test_every_data_implication_is_coherent_with_the_likelihoods() -> None:
    """evidence_model.yaml: a finding that entails another is never more likely than it."""
    model = default_model()
    kb = knowledge_base()
    assert kb.evidence_model is not None and kb.evidence_model.implications
    for imp in kb.evidence_model.implications:
        for parent in imp.implies:
            ia, ib = model.finding_index[imp.finding], model.finding_index[parent]
            bad = [c for ci, c in enumerate(model.condition_ids) if model.p[ci, ia] > model.p[ci, ib] + 1e-12]
            assert not bad, (imp.finding, parent, bad)


def test_findings_the_intake_calls_exclusive_never_sum_above_one() -> None:
    """The intake rejects both of a pair (intake_rules.yaml), so P(a | c) + P(b | c) <= 1."""
    model = default_model()
    for rule in knowledge_base().exclusive_pairs:
        ia, ib = (model.finding_index[f] for f in rule.pair)
        bad = [c for ci, c in enumerate(model.condition_ids) if model.p[ci, ia] + model.p[ci, ib] > 1]
        assert not bad, rule.pair


def test_a_known_age_is_counted_once() -> None:
    older = Patient(age=72)
    plain = posterior(Case(older, CLAUDICANT))
    with_stand_in = posterior(Case(older, {**CLAUDICANT, "hx_age_over_50": P}))
    assert np.allclose(plain, with_stand_in)
    batch = posterior_batch([Case(older, {**CLAUDICANT, "hx_age_over_50": P}), Case(Patient(), CLAUDICANT)])
    assert np.allclose(batch[0], plain) and np.allclose(batch[1], posterior(Case(Patient(), CLAUDICANT)))
    weights = rank(Case(older, {**CLAUDICANT, "hx_age_over_50": P})).conditions[0].evidence_for
    assert "hx_age_over_50" not in {w.finding_id for w in weights}


def test_without_an_age_the_stand_in_carries_the_age() -> None:
    model = default_model()
    pad = model.condition_ids.index("peripheral_arterial_disease")
    unknown = Patient()
    base = posterior(Case(unknown, CLAUDICANT))[pad]
    over = posterior(Case(unknown, {**CLAUDICANT, "hx_age_over_50": P}))[pad]
    under = posterior(Case(unknown, {**CLAUDICANT, "hx_age_over_50": A}))[pad]
    assert under < base < over


@pytest.mark.parametrize(("age", "state"), [(72, P), (50, A), (23, A)])
def test_intake_derives_the_stand_in_from_the_age(age: int, state: State) -> None:
    kb = knowledge_base()
    case = normalize(kb, Patient(age=age), [EvidenceInput("loc_calf", P)]).case
    assert case.evidence["hx_age_over_50"] is state


def test_intake_rejects_a_stand_in_that_contradicts_the_age() -> None:
    kb = knowledge_base()
    items = [EvidenceInput("loc_calf", P), EvidenceInput("hx_age_over_50", P)]
    with pytest.raises(InvalidInput) as err:
        normalize(kb, Patient(age=30), items)
    (violation,) = err.value.violations
    assert violation.field == "evidence[1]" and "age_years is 30" in violation.description
    ok = normalize(kb, Patient(age=30), [items[0], EvidenceInput("hx_age_over_50", A)])
    assert ok.case.evidence["hx_age_over_50"] is A

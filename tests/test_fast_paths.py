"""Every performance shortcut gives exactly the answer of the path it replaces.

Cases: every clinical vignette (explained differentials, red flags, emergencies, context
flags) and a synthetic roster (the team-screening path, explanations omitted), through the
real intake and ranking handlers.  Each shortcut is compared, message for message, with the
full computation it stands in for.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from footcds.v1 import common_pb2, differential_pb2, treatment_pb2, workup_pb2

from services.cli.roster import parse_roster, synthesize, write_roster
from services.differential import explain
from services.differential.handlers import case_from_pb, rank_differential_batch
from services.differential.model import (
    DECISIVE_PER_CONDITION,
    EXPLAINED_PER_CONDITION,
    RankingModel,
    counted_evidence,
)
from services.intake.handlers import normalize_intake
from services.knowledge.clinical import Case, Differential, State, Weight
from services.knowledge.loader import knowledge_base
from services.treatment import domain as treatment_domain
from services.treatment.handlers import plan_treatment
from services.wire import convert, encoding
from services.workup import domain as workup_domain
from services.workup import selection as workup_selection
from services.workup.handlers import ranked_from_pb, recommend_tests
from tests.clinical.evaluate import load_vignettes, request_for

Ranked = tuple[common_pb2.PatientContext, list[common_pb2.Evidence], common_pb2.Differential]


def lean_differential_from_pb(msg: common_pb2.Differential) -> Differential:
    """The reference lean read: ids, labels, probabilities, flags, don't-miss and triage, without
    each condition's codes, evidence weights, decisive findings and citations (what work-up and
    treatment read; ``ranked_from_pb`` and the treatment's columns are held to it)."""
    return Differential(
        conditions=tuple(convert.lean_scored_from_pb(c) for c in msg.conditions),
        dont_miss=tuple(convert.lean_scored_from_pb(c) for c in msg.dont_miss),
        triage=convert.triage_from_pb(msg.triage),
    )


@cache
def ranked_cases() -> tuple[Ranked, ...]:
    """(patient, evidence, differential) for the vignettes (explained) and 120 roster athletes."""
    from footcds.v1 import intake_pb2

    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), 120, seed=7), text)
    roster = parse_roster(text.getvalue()).entries
    requests = [request_for(v) for v in load_vignettes()]
    out: list[Ranked] = []
    for group, explained in ((requests, True), (roster, False)):
        normalized = [
            normalize_intake(
                intake_pb2.NormalizeIntakeRequest(patient=r.patient, evidence=r.evidence, answers=r.answers)
            )
            for r in group
        ]
        ranked = rank_differential_batch(
            differential_pb2.RankDifferentialBatchRequest(
                items=[
                    differential_pb2.RankDifferentialRequest(patient=n.patient, evidence=n.evidence)
                    for n in normalized
                ],
                omit_explanations=not explained,
            )
        )
        out += [
            (n.patient, list(n.evidence), r.differential)
            for n, r in zip(normalized, ranked.results, strict=True)
        ]
    return tuple(out)


def test_the_cases_cover_explanations_emergencies_and_context_flags() -> None:
    cases = ranked_cases()
    assert any(d.conditions[0].evidence_for for _, _, d in cases)
    assert any(d.triage.level == common_pb2.TRIAGE_LEVEL_EMERGENCY for _, _, d in cases)
    assert any(p.context_flags for p, _, _ in cases)


def test_lean_differential_gives_the_same_tests_and_plans_as_the_full_conversion() -> None:
    kb = knowledge_base()
    for patient, evidence, differential in ranked_cases():
        full = convert.differential_from_pb(differential)
        lean = lean_differential_from_pb(differential)
        case = case_from_pb(kb, patient, evidence)
        assert workup_domain.recommend_tests(kb, case, lean) == workup_domain.recommend_tests(kb, case, full)
        who = convert.patient_from_pb(patient)
        assert treatment_domain.plan_treatment(kb, who, lean) == treatment_domain.plan_treatment(kb, who, full)


def test_the_handlers_answer_as_the_domain_does_from_the_full_differential() -> None:
    """The servicers (lean conversion, caches) against the domain fed the full conversion."""
    kb = knowledge_base()
    for patient, evidence, differential in ranked_cases():
        full = convert.differential_from_pb(differential)
        case = case_from_pb(kb, patient, evidence)
        tests = recommend_tests(
            workup_pb2.RecommendTestsRequest(patient=patient, evidence=evidence, differential=differential)
        )
        expected = workup_domain.recommend_tests(kb, case, full)
        assert list(tests.tests) == [convert.test_to_pb(t) for t in expected.tests]
        assert tests.note == expected.note
        plan = plan_treatment(treatment_pb2.PlanTreatmentRequest(patient=patient, differential=differential))
        who = convert.patient_from_pb(patient)
        assert plan.plan == convert.plan_to_pb(treatment_domain.plan_treatment(kb, who, full))


def test_encoded_differential_is_the_message_built_field_by_field() -> None:
    """``differential_to_pb`` (cached per-condition bytes) against the plain construction,
    for explained (vignettes) and unexplained (roster) differentials."""
    for _, _, differential in ranked_cases():
        domain_value = convert.differential_from_pb(differential)
        plain = convert.differential_to_pb_plain(domain_value)
        fast = encoding.differential_to_pb(domain_value)
        assert fast == plain
        assert fast.SerializeToString(deterministic=True) == plain.SerializeToString(deterministic=True)
        assert fast.HasField("triage") and plain.HasField("triage")


def test_one_search_when_nothing_is_contraindicated_is_the_two_search_plan() -> None:
    """The work-up skips the unconstrained search when no test is contraindicated for the
    patient; run it anyway and the plan must be the one returned."""
    kb = knowledge_base()
    table = workup_domain.compiled_tests(kb)
    checked = 0
    for patient, evidence, differential in ranked_cases():
        case = case_from_pb(kb, patient, evidence)
        ranked = ranked_from_pb(differential)
        if workup_domain._self_care_without_dont_miss(kb, ranked) is not None:
            continue
        ctx = workup_selection.build_context(kb, case, ranked, (), "")
        if not ctx.flags.isdisjoint(table.contraindicating):
            continue
        seeds: list[workup_selection.Pick] = []
        for cid in ctx.emergencies:
            pick = workup_selection.immediate_pick(ctx, cid, allow_contraindicated=True)
            if pick is not None and pick.test_id not in {p.test_id for p in seeds}:
                seeds.append(pick)
        ideal = workup_selection.greedy(ctx, seeds, avoid_flags=False)
        if not ctx.emergency_triage:  # plan() puts a test of the leading cause first (round 2)
            ideal = workup_selection.leader_confirmation_first(ctx, ideal)
        assert [p.test_id for p in workup_selection.plan(ctx)] == [
            p.test_id for tier in workup_domain.TIERS for p in ideal if p.tier == tier
        ]
        checked += 1
    assert checked > 50


def test_reused_plans_are_the_plans_assembled_afresh() -> None:
    """Plans come from a cache keyed by ``PlanInputs``; with the cache emptied before every
    call the answers are the same, and the roster does reuse plans."""
    from services.treatment import handlers as treatment_handlers

    requests = [
        treatment_pb2.PlanTreatmentRequest(patient=p, differential=d) for p, _, d in ranked_cases()
    ]
    treatment_handlers.encoded_plan.cache_clear()
    cached = [plan_treatment(r) for r in requests]
    assert treatment_handlers.encoded_plan.cache_info().currsize < len(requests)
    for request, answer in zip(requests, cached, strict=True):
        treatment_handlers.encoded_plan.cache_clear()
        assert plan_treatment(request) == answer


def plain_weights(
    model: RankingModel, ci: int, case: Case, setting: str
) -> tuple[tuple[Weight, ...], tuple[Weight, ...]]:
    """One condition's evidence for and against, computed plainly: the oracle for ``_explanations``."""
    kb = model.kb
    weights: list[Weight] = []
    for fid, state in counted_evidence(model, case).items():
        if state is State.UNKNOWN:
            continue
        fi = model.finding_index[fid]
        table = model.llr_present if state is State.PRESENT else model.llr_absent
        llr = float(table[setting][ci, fi])
        if abs(llr) >= 0.05:
            weights.append(Weight(fid, kb.findings[fid].label, state, round(llr, 3)))
    supporting = sorted((w for w in weights if w.llr > 0), key=lambda w: -w.llr)
    against = sorted((w for w in weights if w.llr < 0), key=lambda w: w.llr)
    return tuple(supporting[:EXPLAINED_PER_CONDITION]), tuple(against[:EXPLAINED_PER_CONDITION])


def plain_decisive(model: RankingModel, ci: int, case: Case, setting: str) -> tuple[str, ...]:
    """Unknown findings whose presence or absence would move this condition most."""
    swing = np.abs(model.llr_present[setting][ci]) + np.abs(model.llr_absent[setting][ci])
    known = [model.finding_index[f] for f, s in case.evidence.items() if s is not State.UNKNOWN]
    if case.patient.age is not None:  # a known age answers its stand-in finding
        known += [model.finding_index[f] for f in model.age_stand_ins]
    swing = swing.copy()
    swing[known] = -1.0
    top = np.argsort(-swing)[:DECISIVE_PER_CONDITION]
    return tuple(model.finding_ids[i] for i in top if swing[i] > 0)


def test_vectorized_explanations_are_the_per_condition_ones() -> None:
    """``_explanations`` (all conditions at once) equals ``_weights``/``_decisive`` one by one,
    weights, their order, rounding and ties included, for every condition of every case."""
    from services.differential import ranking

    kb = knowledge_base()
    model = ranking.default_model()
    tables = ranking.explain_tables(model)
    everyone = list(range(len(model.condition_ids)))
    explained = 0
    for patient, evidence, _ in ranked_cases():
        case = case_from_pb(kb, patient, evidence)
        setting = case.patient.setting
        fast = explain._explanations(model, tables, case, setting, everyone)
        for ci, (supporting, against, decisive) in zip(everyone, fast, strict=True):
            assert (supporting, against) == plain_weights(model, ci, case, setting)
            assert decisive == plain_decisive(model, ci, case, setting)
            explained += bool(supporting or against)
    assert explained > 0


def test_validation_without_red_flags_is_the_intake_case_and_errors() -> None:
    """The differential's and work-up's validation (``domain.validate``) keeps the intake's case
    and its field violations; only the red flags (computed elsewhere) are left out."""
    import pytest

    from services.intake import domain as intake_domain
    from services.intake.handlers import evidence_inputs
    from services.platform.errors import InvalidInput

    kb = knowledge_base()
    for patient, evidence, _ in ranked_cases():
        items = evidence_inputs(evidence)
        p = convert.patient_from_pb(patient)
        assert intake_domain.validate(kb, p, items) == intake_domain.normalize(kb, p, items).case
    bad = [intake_domain.EvidenceInput("no_such_finding", None)]
    p = convert.patient_from_pb(common_pb2.PatientContext(age_years=200))
    with pytest.raises(InvalidInput) as plain:
        intake_domain.normalize(kb, p, bad)
    with pytest.raises(InvalidInput) as lean:
        intake_domain.validate(kb, p, bad)
    assert lean.value.violations == plain.value.violations
    assert {v.field for v in lean.value.violations} >= {"patient.age_years", "evidence[0].finding_id"}


def test_cached_explanation_bytes_keep_signed_zero_and_repeats() -> None:
    """Cached weight/citation encodings: a -0.0 weight after a 0.0 one (equal keys) and the
    same explanation encoded twice still parse to the plain message."""
    from dataclasses import replace

    from services.knowledge.clinical import State, Weight

    domain_value = convert.differential_from_pb(ranked_cases()[0][2])
    first = domain_value.conditions[0]
    assert first.evidence_for and first.citations
    for llr in (0.0, -0.0, 0.0):
        weight = Weight("loc_sole", "Sole numbness", State.PRESENT, llr)
        condition = replace(first, evidence_against=(weight,))
        value = replace(domain_value, conditions=(condition, *domain_value.conditions[1:]))
        for _ in range(2):
            fast = encoding.differential_to_pb(value)
            plain = convert.differential_to_pb_plain(value)
            assert fast.SerializeToString(deterministic=True) == plain.SerializeToString(deterministic=True)

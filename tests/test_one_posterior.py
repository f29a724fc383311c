"""One posterior (round 8, docs/ranking.md section 9): the list, the don't-miss list, the triage
thresholds and the percentages their reasons quote all read the same (corrected) probabilities.

Why: until round 7 the thresholds read the tables' posterior while the list showed the corrected
one, so a reason could say "Acute limb ischaemia is possible (12%)" beside a list showing it at
8%: a clinician must not read two percentages for one condition. The thresholds were re-chosen
for the corrected posterior by nested leave-one-round-out cross-validation
(``devtools/cv_posterior.py``); the last test is that choice's shipping gate.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

import pytest

from devtools.casefit import FitParams, intake_case
from devtools.correction_fit import CorrectionParams
from devtools.cv_posterior import Row, Thresholds, evaluate, file_thresholds, held_out_rows_many
from devtools.margin_sweep import rounds_worse_than
from services.differential.ranking import (
    compile_model,
    default_model,
    emergency_setting_missing,
    rank,
    rank_batch,
)
from services.knowledge.loader import load_knowledge_base
from tests.clinical import realcases
from tests.fold_memo import FoldMemo

# Every triage reason that quotes a condition's probability (ranking.triage_for).
QUOTES = (
    re.compile(r"^Most likely: (?P<label>.+) \((?P<pct>[\d.]+)%\), usually "),
    re.compile(r"^(?P<label>.+) is possible \((?P<pct>[\d.]+)%\): an emergency\.$"),
    re.compile(r"^(?P<label>.+) cannot be excluded \((?P<pct>[\d.]+)%\); see soon\.$"),
    re.compile(r"^(?P<label>.+) \((?P<pct>[\d.]+)%\) needs a clinician within 48 hours\.$"),
)


def _quotes(reasons: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for reason in reasons:
        for pattern in QUOTES:
            m = pattern.match(reason)
            if m:
                out.append((m["label"], m["pct"]))
                break
    return out


def test_every_percentage_a_reason_quotes_is_the_one_the_list_shows() -> None:
    """Over published cases: each quoted percentage, formatted as the reason formats it, is the
    list's probability of that condition; the threshold reasons (emergency, don't-miss, urgent)
    appear exactly for the conditions whose list probability crosses their thresholds."""
    kb = load_knowledge_base()
    policy = kb.triage_policy
    base = load_knowledge_base(fitted=False, corrected=False)
    cases = realcases.spent_cases()[::3]
    quoted = emergencies = 0
    intake = [intake_case(base, c) for c in cases]
    for case, diff in zip(intake, rank_batch(intake, default_model()), strict=True):
        shown = {c.label: c for c in diff.conditions}
        for label, pct in _quotes(diff.triage.reasons):
            p = shown[label].probability
            decimals = len(pct.split(".")[1]) if "." in pct else 0
            assert pct == f"{100 * p:.{decimals}f}", (label, pct, p)
            quoted += 1
        for c in diff.conditions:
            possible = f"{c.label} is possible ({c.probability:.0%}): an emergency."
            # Round 11: a runner-up emergency outside its own setting reads "cannot be excluded"; round 12: so
            # does a leader of the conditions whose leader is gated, without any of its settings.
            gated = bool(emergency_setting_missing(kb, c.condition_id, case.present(),
                                                   leading=c.condition_id == diff.conditions[0].condition_id))
            crosses = c.emergency and c.probability >= policy.emergency_condition_threshold and not gated
            assert (possible in diff.triage.reasons) == crosses, (c.label, c.probability)
            emergencies += possible in diff.triage.reasons
    assert quoted > len(cases) and emergencies > 0


def test_the_dont_miss_list_and_the_level_read_the_list() -> None:
    """The don't-miss list holds exactly the emergency / don't-miss conditions at or above the
    threshold in the list (or named by a red flag), and a case whose list shows an emergency
    condition at or above the emergency threshold is triaged emergency."""
    kb = load_knowledge_base()
    policy = kb.triage_policy
    base = load_knowledge_base(fitted=False, corrected=False)
    intake = [intake_case(base, c) for c in realcases.spent_cases()[1::3]]
    for case, diff in zip(intake, rank_batch(intake, default_model()), strict=True):
        flagged = {cid for flag in diff.triage.red_flags for cid in flag.suspect}
        expected = {c.condition_id for c in diff.conditions
                    if ((c.emergency or c.dont_miss) and c.probability >= policy.dont_miss_threshold)
                    or c.condition_id in flagged}
        assert {c.condition_id for c in diff.dont_miss} == expected
        leader = diff.conditions[0].condition_id
        if any(c.emergency and c.probability >= policy.emergency_condition_threshold
               and not emergency_setting_missing(kb, c.condition_id, case.present(), leading=c.condition_id == leader)
               for c in diff.conditions):
            assert diff.triage.level == "emergency"


def test_single_case_and_batch_paths_agree_with_the_correction() -> None:
    """``rank`` (Assess) and ``rank_batch`` (screening) give the same list, level and reasons."""
    base = load_knowledge_base(fitted=False, corrected=False)
    intake = [intake_case(base, c) for c in realcases.spent_cases()[:40]]
    model = default_model()
    for case, batch in zip(intake, rank_batch(intake, model, explain=True), strict=True):
        single = rank(case, model)
        assert [c.condition_id for c in single.conditions] == [c.condition_id for c in batch.conditions]
        assert single.triage.level == batch.triage.level
        assert single.triage.reasons == batch.triage.reasons
    assert not compile_model(load_knowledge_base(corrected=False)).has_correction


@cache
def _held_out_rows() -> tuple[list[Row], list[Row]]:
    """Every spent case's held-out row (nested leave-one-round-out, both layers fitted on the other
    rounds) with the committed correction, and with the same correction without its emergency
    margin (``emergency_weight`` 0, the plain fit); the fitted layer and the offsets are fitted once
    per round for both (``held_out_rows_many``); computed once for the gates below. (Round 12's
    choice of penalty, 0.005 against 0.01, was measured per round in every nested fold:
    docs/knowledge-changes-round12-r12learn.md.)"""
    base = load_knowledge_base(fitted=False, corrected=False)
    committed = CorrectionParams()
    shipped, plain = held_out_rows_many(
        base, realcases.spent_cases(), FitParams(), [committed, replace(committed, emergency_weight=0.0)]
    )
    return shipped, plain


# Held-out emergencies round 7's engine catches and the shipped one does not, each with why: a ratchet like
# tests/clinical/known_safety_misses.yaml (the gate fails on any other such case, in any round, and when a
# listed one is caught). The overall totals are still gated without exceptions. Round 18 (r18refit): empty;
# rc_b006 (acute compartment syndrome at 11.8% held out, listed after round 17) is caught held out since the
# emergency threshold is 0.115 (docs/knowledge-changes-round18-r18refit.md).
HELD_OUT_EXCEPTIONS: dict[str, str] = {}


@pytest.mark.timeout(1500)
def test_held_out_the_one_posterior_is_at_least_as_safe(shared_folds: FoldMemo) -> None:
    """The shipping gate (nested leave-one-round-out over the spent rounds: both layers fitted on
    the other rounds). Against round 7's engine on the same held-out cases (thresholds 0.10 /
    0.015 / 0.35, self-care 0.5, reading the uncorrected posterior): no fewer emergencies
    triaged emergency and no more under-triage (one or two levels), overall and in every round.
    Over-triage is reported, not gated: on the 660 cases of rounds 1-7 the round-8 choice
    (emergency 0.14) raised 75 non-emergencies against 77, but on round 8's unseen cases it missed
    an emergency the older engine caught; with round 8 spent (732 cases) the emergency threshold
    is 0.12, chosen by all eight nested folds: caught 285 -> 286 of 308, under-triage 39 -> 35,
    by two levels 5 -> 4, raised 89 -> 95 of 424 (docs/knowledge-changes-round8.md). Round 9, eight
    rounds, fitted layer min_stated 4, do-not-miss 0.01: caught 286, under-triage 33, by two levels 2
    (4 at 0.015), raised 92 of 424 (docs/knowledge-changes-round9-r9learn.md). Round 10, nine rounds
    (816 cases), min_stated 5, the correction's emergency margin: caught 320 of 346 (round 7's engine
    319), under-triage 41 (46), by two levels 2 (5), raised 104 of 470 (104). Round 12, eleven rounds
    (950 cases), l2 0.005: caught 383 of 408 (round 7's engine 378), under-triage 36 (51), by two levels
    3 (6), raised 140 of 542 (127) (docs/knowledge-changes-round12-r12learn.md)."""
    base = load_knowledge_base(fitted=False, corrected=False)
    ids = list(compile_model(base).condition_ids)
    rows = _held_out_rows()[0]
    shipped_t = file_thresholds(base)
    shipped = evaluate(base, ids, rows, shipped_t, one=True)
    round7 = evaluate(base, ids, rows, Thresholds(0.10, 0.015, 0.35, 0.5), one=False)
    assert shipped["emergencies_caught"] >= round7["emergencies_caught"]
    assert shipped["under_triage"] <= round7["under_triage"]
    assert shipped["under_triage_two_levels"] <= round7["under_triage_two_levels"]
    round7_t = Thresholds(0.10, 0.015, 0.35, 0.5)
    excused = [x for x in rows if x.case.id in HELD_OUT_EXCEPTIONS]
    assert {x.case.id for x in excused} == set(HELD_OUT_EXCEPTIONS)
    for x in excused:  # a ratchet: once the shipped engine catches it held out, it leaves the list
        assert (evaluate(base, ids, [x], shipped_t, one=True)["emergencies_caught"]
                < evaluate(base, ids, [x], round7_t, one=False)["emergencies_caught"]), x.case.id
    for r in sorted({x.case.corpus_round for x in rows}):
        held = [x for x in rows if x.case.corpus_round == r and x.case.id not in HELD_OUT_EXCEPTIONS]
        a = evaluate(base, ids, held, shipped_t, one=True)
        b = evaluate(base, ids, held, round7_t, one=False)
        assert a["emergencies_caught"] >= b["emergencies_caught"], r
        assert a["under_triage"] <= b["under_triage"], r
    # Round 9: do-not-miss 0.015 -> 0.01 sent fewer held-out emergencies to routine care (2 against 4 over
    # 732 cases) and changed no emergency level. Round 11 (950 cases): two levels under 3 against 3 (the
    # new one, Guillain-Barre seen as anxiety, is self-care at both), under-triage 41 against 43, exact
    # 660 against 683: the lower line still buys fewer under-triaged cases, so it must keep doing so.
    before = evaluate(base, ids, rows, Thresholds(shipped_t.emergency, 0.015, shipped_t.urgent, shipped_t.self_care),
                      one=True)
    assert shipped["under_triage_two_levels"] <= before["under_triage_two_levels"]
    assert shipped["under_triage"] < before["under_triage"]
    assert (shipped["emergencies_caught"], shipped["raised"]) == (before["emergencies_caught"], before["raised"])


# How many ranking places (a case leaving top-1 or top-3) one held-out emergency caught may cost: an
# emergency sent home is the error the issue ranks first; three places is the round-17 bound (the margin
# cost 7 places for 3 emergencies over sixteen rounds), so a margin that stops buying emergencies fails.
PLACES_PER_EMERGENCY = 3


@pytest.mark.timeout(1500)
def test_held_out_the_emergency_margin_costs_no_round_an_emergency(shared_folds: FoldMemo) -> None:
    """Round 10: the correction's emergency margin (a training emergency under 15% weighs 1.1 in the
    fit) is what lets the refit over nine rounds keep every spent emergency it caught in sample (the
    plain refit left two at 11.8%, under the 12% threshold). Held out it must cost no round an
    emergency or an under-triage against the plain fit on the same layer, and top-1 and top-3
    together must not fall (816 cases: 426 + 617 against 424 + 619; raised 104 against 103 of 470;
    docs/knowledge-changes-round10-r10learn.md).

    Round 17: with round 16 spent (1,254 cases held out by round) the margin still costs no round an
    emergency or an under-triage and catches 507 emergencies against the plain fit's 504 (under-triage 55
    against 60), but top-1 + top-3 now fall by seven places (686 + 978 against 687 + 984). Red flags are
    never traded for a tidier ranking, so the gate keeps the margin and asks it to pay for what it costs:
    held out it must catch at least as many emergencies as the plain fit in total, and lose at most
    ``PLACES_PER_EMERGENCY`` ranking places (top-1 or top-3) per emergency it buys. The weights tried
    (``python -m devtools.margin_sweep``: 0, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5) are in
    docs/knowledge-changes-round17.md."""
    committed = CorrectionParams().emergency_weight
    assert committed > 0
    base = load_knowledge_base(fitted=False, corrected=False)
    ids = list(compile_model(base).condition_ids)
    t = file_thresholds(base)
    rows, plain_rows = _held_out_rows()
    shipped, plain = evaluate(base, ids, rows, t, one=True), evaluate(base, ids, plain_rows, t, one=True)
    n = len(rows)
    bought = shipped["emergencies_caught"] - plain["emergencies_caught"]
    places_lost = round(n * (plain["top1"] + plain["top3"] - shipped["top1"] - shipped["top3"]))
    assert bought >= 0
    assert places_lost <= PLACES_PER_EMERGENCY * bought, (places_lost, bought)
    assert not rounds_worse_than(base, ids, rows, plain_rows, t)


def test_a_rare_emergency_that_cannot_be_excluded_makes_a_routine_picture_urgent() -> None:
    """An emergency condition just over the do-not-miss threshold (1% since round 9) makes a routine leader's
    case urgent and says so with the list's percentage; just under it, it does not."""
    from services.differential.ranking import triage_for

    model = default_model()
    policy = model.kb.triage_policy
    ids = list(model.condition_ids)
    benign = "mortons_neuroma"
    assert model.kb.conditions[benign].default_triage == "routine"
    label = model.kb.conditions["acute_compartment_syndrome"].label
    for p_acs, level in ((policy.dont_miss_threshold * 1.2, "urgent"), (policy.dont_miss_threshold * 0.9, "routine")):
        probs = {cid: 0.0 for cid in ids}
        probs["acute_compartment_syndrome"] = p_acs
        probs[benign] = 1.0 - p_acs
        triage = triage_for(model, probs, (), False)
        assert triage.level == level, p_acs
        quoted = f"{label} cannot be excluded ({p_acs:.1%}); see soon."
        assert (quoted in triage.reasons) == (level == "urgent")

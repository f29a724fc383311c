"""Cross-file checks of the knowledge base.

The pydantic models check each entry on its own; this module checks that entries agree
with each other and with the world: ids come from the vocabulary, citations resolve,
ICD-10-CM codes exist in the CMS code set (via ``simple-icd-10-cm``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from services.knowledge.loader import KnowledgeBase

VOCABULARY_PATH = Path(__file__).parent / "vocabulary.yaml"


@cache
def vocabulary() -> dict[str, frozenset[str]]:
    """Ids by kind (conditions, findings, tests, triage_levels, context_flags) from the project vocabulary."""
    raw = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    findings = [fid for group in raw["findings"].values() for fid in group]
    return {
        "conditions": frozenset(raw["conditions"]),
        "findings": frozenset(findings),
        "tests": frozenset(raw["tests"]),
        "triage_levels": frozenset(raw["triage_levels"]),
        "context_flags": frozenset(raw.get("context_flags", [])),
    }


@cache
def finding_groups() -> dict[str, str]:
    """Finding id -> its vocabulary group (location, laterality, ...)."""
    raw = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    return {fid: group for group, ids in raw["findings"].items() for fid in ids}


@cache
def _icd10cm_codes() -> frozenset[str]:
    """Every ICD-10-CM code and category of the CMS code set shipped by simple-icd-10-cm.

    Reads the package's plain code list rather than importing the package, which would build
    the whole classification tree (seconds and ~100 MB) in every service.
    """
    from importlib.util import find_spec

    # find_spec locates a top-level package without importing it; importlib.resources.files
    # would import it (and so build the tree: +180 MB peak RSS, measured by `make bench`).
    spec = find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("simple-icd-10-cm is not installed: its CMS code list checks ICD-10-CM codes")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    listing = next(p for p in data.iterdir() if p.name.startswith("code-list-"))
    return frozenset(line.strip() for line in listing.read_text(encoding="utf-8").splitlines())


def is_real_icd10cm(code: str) -> bool:
    return "-" not in code and code.replace(".", "").upper() in _icd10cm_codes()


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def unknown(self, where: str, kind: str, ids: Iterable[str], known: Iterable[str]) -> None:
        known_set = set(known)
        for ident in ids:
            if ident not in known_set:
                self.items.append(f"{where}: unknown {kind} id {ident!r}")


def validate_knowledge_base(kb: KnowledgeBase, *, check_codes: bool = True) -> None:
    from services.knowledge.loader import KnowledgeBaseError

    vocab = vocabulary()
    problems = _Problems()
    cite_keys = set(kb.sources)

    def cites(where: str, keys: Iterable[str]) -> None:
        for key in keys:
            if key not in cite_keys:
                problems.items.append(f"{where}: citation {key!r} is not in sources*.yaml")

    problems.unknown("conditions.yaml", "condition", kb.conditions, vocab["conditions"])
    problems.unknown("findings.yaml", "finding", kb.findings, vocab["findings"])
    problems.unknown("tests.yaml", "test", kb.tests, vocab["tests"])
    problems.unknown("triage.yaml", "triage level", kb.triage_levels, vocab["triage_levels"])

    for cid, condition in kb.conditions.items():
        where = f"conditions.yaml: entry {cid!r}"
        cites(where, condition.citations)
        cites(f"{where} prevalence", condition.prevalence.citations)
        if check_codes:
            for code in condition.icd10cm:
                if not is_real_icd10cm(code):
                    problems.items.append(f"{where}: {code!r} is not a real ICD-10-CM code")
        for mod in condition.age_modifiers:
            if mod.min_age > mod.max_age:
                problems.items.append(f"{where}: age modifier min_age > max_age")

    for fid, finding in kb.findings.items():
        if finding.group != finding_groups().get(fid, finding.group):
            problems.items.append(
                f"findings.yaml: entry {fid!r} is in group {finding.group!r}, "
                f"vocabulary says {finding_groups()[fid]!r}"
            )

    for cid, per_finding in kb.likelihoods.items():
        where = f"likelihoods.yaml: {cid!r}"
        problems.unknown(where, "condition", [cid], kb.conditions)
        problems.unknown(where, "finding", per_finding, kb.findings)
        for fid, lik in per_finding.items():
            cites(f"{where} / {fid!r}", lik.citations)

    for cid, condition in kb.conditions.items():
        for i, first in enumerate(condition.immediate_test_first):
            where = f"conditions.yaml: entry {cid!r} immediate_test_first[{i}]"
            problems.unknown(where, "condition", first.before, kb.conditions)
            problems.unknown(where, "finding", [*first.when_any, *first.unless_any], kb.findings)
            if not condition.emergency or any(
                c in kb.conditions and not kb.conditions[c].emergency for c in first.before
            ):
                problems.items.append(f"{where}: orders immediate tests, so it and every `before` must be emergencies")
            cites(where, first.citations)

    for rule in kb.red_flags:
        where = f"red_flags.yaml: entry {rule.id!r}"
        problems.unknown(
            where,
            "finding",
            [*rule.all_of, *rule.any_of, *(f for g in rule.and_any_of for f in g), *rule.unless_any],
            kb.findings,
        )
        if rule.unless_pattern is not None:
            pattern = rule.unless_pattern
            problems.unknown(
                f"{where} unless_pattern",
                "finding",
                [*pattern.all_of, *(f for g in pattern.and_any_of for f in g), *pattern.unless_any],
                kb.findings,
            )
        problems.unknown(where, "condition", rule.suspect, kb.conditions)
        cites(where, rule.citations)

    cites("triage.yaml: policy", kb.triage_policy.citations)

    for tid, test in kb.tests.items():
        where = f"tests.yaml: entry {tid!r}"
        cites(where, test.citations)
        problems.unknown(where, "condition", test.detects, kb.conditions)
        for cid, acc in test.detects.items():
            cites(f"{where} detects {cid!r}", acc.citations)
        if test.value is not None:
            cites(f"{where} value", test.value.citations)

    for iid, item in kb.treatment_items.items():
        cites(f"treatments.yaml: item {iid!r}", item.citations)
    for cid, plan in kb.plans.items():
        where = f"treatments.yaml: plan {cid!r}"
        problems.unknown(where, "condition", [cid], kb.conditions)
        problems.unknown(
            where,
            "treatment item",
            [*plan.now, *plan.next_2_6_weeks, *plan.escalation],
            kb.treatment_items,
        )
        cites(where, plan.citations)

    for question in kb.questions:
        for option in question.options:
            problems.unknown(
                f"questionnaire.yaml: {question.id!r} option {option.id!r}",
                "finding",
                [*option.sets_present, *option.sets_absent],
                kb.findings,
            )

    for pair in kb.exclusive_pairs:
        problems.unknown("intake_rules.yaml", "finding", pair.pair, kb.findings)
    problems.unknown("intake_rules.yaml", "finding", kb.flags_from_findings, kb.findings)
    problems.unknown(
        "intake_rules.yaml", "context flag", kb.flags_from_findings.values(), vocab["context_flags"]
    )

    if kb.evidence_model is not None:
        _check_evidence_model(kb, problems, cites)

    for advice in kb.team_advice:
        where = f"team_advice.yaml: entry {advice.id!r}"
        problems.unknown(where, "condition", advice.condition_ids, kb.conditions)
        cites(where, advice.citations)

    if problems.items:
        shown = "\n  ".join(problems.items[:40])
        more = f"\n  ... and {len(problems.items) - 40} more" if len(problems.items) > 40 else ""
        raise KnowledgeBaseError(f"knowledge base is invalid:\n  {shown}{more}")


def _check_evidence_model(
    kb: KnowledgeBase, problems: _Problems, cites: Callable[[str, Iterable[str]], None]
) -> None:
    """Ids known, and the implications coherent with the background rates: a finding that
    entails another is never more common than it (else deriving one from the other is wrong)."""
    model = kb.evidence_model
    assert model is not None
    where = "evidence_model.yaml"
    for imp in model.implications:
        problems.unknown(f"{where}: implication {imp.finding!r}", "finding", [imp.finding, *imp.implies], kb.findings)
        child = kb.findings.get(imp.finding)
        for parent_id in imp.implies:
            parent = kb.findings.get(parent_id)
            if child is not None and parent is not None and child.background > parent.background:
                problems.items.append(
                    f"{where}: {imp.finding!r} implies {parent_id!r} but its background "
                    f"{child.background} is above {parent.background}"
                )
    for group in model.correlation_groups:
        problems.unknown(f"{where}: correlation group {group.id!r}", "finding", group.findings, kb.findings)
    for hallmark in model.hallmarks:
        at = f"{where}: hallmarks of {hallmark.condition!r}"
        problems.unknown(at, "condition", [hallmark.condition], kb.conditions)
        problems.unknown(at, "finding", hallmark.findings, kb.findings)
        cites(at, hallmark.citations)
        condition = kb.conditions.get(hallmark.condition)
        if condition is not None and (condition.emergency or condition.default_triage == "emergency"):
            problems.items.append(f"{at}: an emergency is never discounted for a missing hallmark")
    cites(f"{where}: fit", model.fit.citations)

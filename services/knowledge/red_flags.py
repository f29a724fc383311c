"""Evaluate the knowledge base's red-flag rules on a set of present findings.

Both intake (to lead the answer with them) and the differential (so triage never depends on
the caller having run intake first) use this one function.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Set as AbstractSet

from services.knowledge.clinical import TRIAGE_ORDER, RedFlagHit
from services.knowledge.loader import KnowledgeBase
from services.knowledge.models import RedFlagPattern, RedFlagRule

_Rule = tuple[frozenset[str], frozenset[str], tuple[str, ...], tuple[tuple[str, ...], ...], RedFlagRule]
_COMPILED: dict[int, tuple[KnowledgeBase, tuple[_Rule, ...]]] = {}
_ORDER = {lvl: i for i, lvl in enumerate(TRIAGE_ORDER)}


def _rules(kb: KnowledgeBase) -> tuple[_Rule, ...]:
    """The KB's rules with their all-of and unless sets built once (set tests in C, not a
    generator per rule per case: ~71 rules, run twice per screened athlete)."""
    held = _COMPILED.get(id(kb))
    if held is not None and held[0] is kb:
        return held[1]
    rules = tuple(
        (frozenset(r.all_of), frozenset(r.unless_any), tuple(r.any_of), tuple(tuple(g) for g in r.and_any_of), r)
        for r in kb.red_flags
    )
    if len(_COMPILED) < 16:  # bounded: one knowledge base in practice
        _COMPILED[id(kb)] = (kb, rules)
    return rules


def pattern_matches(pattern: RedFlagPattern, seen: AbstractSet[str]) -> bool:
    """Whether a rule's ``unless_pattern`` explains the findings away (the compiled walk's test)."""
    return (
        all(f in seen for f in pattern.all_of)
        and all(not seen.isdisjoint(group) for group in pattern.and_any_of)
        and seen.isdisjoint(pattern.unless_any)
    )


def detect_red_flags(kb: KnowledgeBase, present: Collection[str]) -> tuple[RedFlagHit, ...]:
    seen = present if isinstance(present, (set, frozenset)) else set(present)
    hits: list[RedFlagHit] = []
    for all_of, unless_any, any_of, and_any_of, rule in _rules(kb):
        if not all_of.issubset(seen) or not unless_any.isdisjoint(seen):
            continue
        if rule.unless_pattern is not None and pattern_matches(rule.unless_pattern, seen):
            continue
        matched_any = [f for f in any_of if f in seen]
        if any_of and not matched_any:
            continue
        matched_groups = [[f for f in group if f in seen] for group in and_any_of]
        if not all(matched_groups):
            continue
        hits.append(_hit(rule, matched_any, matched_groups))
    hits.sort(key=lambda h: _ORDER[h.level])
    return tuple(hits)


def detect_red_flags_plain(kb: KnowledgeBase, present: Collection[str]) -> tuple[RedFlagHit, ...]:
    """The rules read one by one, as written: the reference ``detect_red_flags`` is tested against."""
    hits: list[RedFlagHit] = []
    for rule in kb.red_flags:
        if not all(f in present for f in rule.all_of):
            continue
        if any(f in present for f in rule.unless_any):
            continue
        pattern = rule.unless_pattern
        if pattern is not None and all(f in present for f in pattern.all_of) and all(
            any(f in present for f in group) for group in pattern.and_any_of
        ) and not any(f in present for f in pattern.unless_any):
            continue
        matched_any = [f for f in rule.any_of if f in present]
        if rule.any_of and not matched_any:
            continue
        matched_groups = [[f for f in group if f in present] for group in rule.and_any_of]
        if not all(matched_groups):
            continue
        hits.append(_hit(rule, matched_any, matched_groups))
    hits.sort(key=lambda h: _ORDER[h.level])
    return tuple(hits)


def _hit(rule: RedFlagRule, matched_any: list[str], matched_groups: list[list[str]]) -> RedFlagHit:
    """One fired rule, naming every finding that made it fire (both walks build it here)."""
    return RedFlagHit(
        rule_id=rule.id,
        description=rule.description,
        finding_ids=(*rule.all_of, *matched_any, *(f for g in matched_groups for f in g)),
        level=rule.level,
        suspect=tuple(rule.suspect),
    )

"""Evaluate the knowledge base's red-flag rules on a set of present findings.

Both intake (to lead the answer with them) and the differential (so triage never depends on
the caller having run intake first) use this one function.
"""

from __future__ import annotations

from collections.abc import Collection

from services.knowledge.clinical import TRIAGE_ORDER, RedFlagHit
from services.knowledge.loader import KnowledgeBase


def detect_red_flags(kb: KnowledgeBase, present: Collection[str]) -> tuple[RedFlagHit, ...]:
    hits: list[RedFlagHit] = []
    for rule in kb.red_flags:
        if not all(f in present for f in rule.all_of):
            continue
        if any(f in present for f in rule.unless_any):
            continue
        matched_any = [f for f in rule.any_of if f in present]
        if rule.any_of and not matched_any:
            continue
        matched_groups = [[f for f in group if f in present] for group in rule.and_any_of]
        if not all(matched_groups):
            continue
        hits.append(
            RedFlagHit(
                rule_id=rule.id,
                description=rule.description,
                finding_ids=(*rule.all_of, *matched_any, *(f for g in matched_groups for f in g)),
                level=rule.level,
                suspect=tuple(rule.suspect),
            )
        )
    order = {lvl: i for i, lvl in enumerate(TRIAGE_ORDER)}
    hits.sort(key=lambda h: order[h.level])
    return tuple(hits)

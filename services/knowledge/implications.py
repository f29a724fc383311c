"""Finding implications (``evidence_model.yaml``): which findings entail which.

The intake closes a case under them (a child present makes its parents present, a parent
absent makes its children absent) so red-flag rules, ranking and NextQuestion all see both;
the ranking then counts each chain once (``counted_findings``).  Both use this one graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from services.knowledge.clinical import State
from services.knowledge.loader import KnowledgeBase


@dataclass(frozen=True)
class ImplicationGraph:
    ancestors: Mapping[str, frozenset[str]]  # finding -> every finding it entails (transitively)
    descendants: Mapping[str, frozenset[str]]  # finding -> every finding that entails it
    order: tuple[str, ...]  # findings with parents, parents' own parents first (topological)


def _build(direct: Mapping[str, tuple[str, ...]]) -> ImplicationGraph:
    ancestors: dict[str, frozenset[str]] = {}

    def up(finding: str) -> frozenset[str]:
        if finding not in ancestors:
            found: set[str] = set()
            for parent in direct.get(finding, ()):
                found.add(parent)
                found |= up(parent)
            ancestors[finding] = frozenset(found)
        return ancestors[finding]

    for finding in direct:
        up(finding)
    descendants: dict[str, set[str]] = {}
    for child, parents in ancestors.items():
        for parent in parents:
            descendants.setdefault(parent, set()).add(child)
    # A finding comes after every finding it entails that itself has parents.
    order = tuple(sorted(direct, key=lambda f: len(ancestors[f])))
    return ImplicationGraph(
        ancestors={k: v for k, v in ancestors.items() if v},
        descendants={k: frozenset(v) for k, v in descendants.items()},
        order=order,
    )


@cache
def _graph_for(key: tuple[tuple[str, tuple[str, ...]], ...]) -> ImplicationGraph:
    return _build(dict(key))


def implication_graph(kb: KnowledgeBase) -> ImplicationGraph:
    model = kb.evidence_model
    pairs = tuple((i.finding, tuple(i.implies)) for i in model.implications) if model else ()
    return _graph_for(pairs)


def counted_findings(graph: ImplicationGraph, evidence: Mapping[str, State]) -> dict[str, State]:
    """The evidence with each implication chain counted once.

    A present finding entailed by another present finding adds nothing (P(child and parent |
    c) = P(child | c)); an absent finding entailed absent by an absent parent adds nothing
    either (P(not parent and not child | c) = P(not parent | c)).  Unknowns are dropped.
    """
    present = [f for f, s in evidence.items() if s is State.PRESENT]
    absent = [f for f, s in evidence.items() if s is State.ABSENT]
    covered: set[str] = set()
    for finding in present:
        covered |= graph.ancestors.get(finding, frozenset())
    for finding in absent:
        covered |= graph.descendants.get(finding, frozenset())
    return {
        f: s
        for f, s in evidence.items()
        if s is not State.UNKNOWN and f not in covered
    }

"""A bounded memo of values derived from one knowledge base (or another object).

Why: the work-up's batch search asks for the same few derived values (a test's citation list,
the tests a search may add) thousands of times per roster. Keying on ``id(kb)`` alone would hand
a reloaded knowledge base another's values if the id were reused, so each entry keeps the
knowledge base it was built from and is used only for that very object; the memo is cleared
when full rather than growing with a long-running server's traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from services.knowledge.loader import KnowledgeBase

Owner = TypeVar("Owner")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PerObject(Generic[Owner, K, V]):
    """Values derived from one object (a knowledge base, a compiled table), keyed on its identity
    and used only for that very object."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: dict[tuple[int, K], tuple[Owner, V]] = {}

    def get(self, owner: Owner, key: K, build: Callable[[], V]) -> V:
        """The value for ``key`` derived from ``owner``, built once while it stays in the memo."""
        slot = (id(owner), key)
        hit = self._items.get(slot)
        if hit is not None and hit[0] is owner:
            return hit[1]
        value = build()
        if len(self._items) >= self._limit:
            self._items.clear()
        self._items[slot] = (owner, value)
        return value


class PerKnowledgeBase(PerObject[KnowledgeBase, K, V]):
    """Values derived from one knowledge base."""

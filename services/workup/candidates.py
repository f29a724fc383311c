"""Which tests a greedy round may choose: the allowed ones, and of those the ones that can move
the planning distribution at all.

Split out of ``selection`` (the search) because both are memoised per knowledge base or table
and both answer "which rows does a round value", not "which row wins"; ``Search`` asks them
once per search.
"""

from __future__ import annotations

import numpy as np

from services.knowledge.loader import KnowledgeBase
from services.knowledge.memo import PerKnowledgeBase, PerObject
from services.knowledge.models import DiagnosticTest
from services.workup.value import Array, CompiledTests


def contraindications_found(test: DiagnosticTest, flags: frozenset[str]) -> tuple[str, ...]:
    return tuple(f for f in test.contraindications if f in flags)


def allowed_tests(
    kb: KnowledgeBase, table: CompiledTests, exclude: frozenset[str], flags: frozenset[str]
) -> Array:
    """[T] bool: the tests a search may add (not excluded, no contraindication among
    ``flags``).  Read-only and memoised per knowledge base: a roster has few distinct
    exclusions and flag sets, and building it was a sixth of the batch search (ninth pass)."""
    def build() -> Array:
        allowed = np.array([t not in exclude and not contraindications_found(kb.tests[t], flags)
                            for t in table.test_ids])
        allowed.flags.writeable = False
        return allowed

    return _ALLOWED.get(kb, (table.test_ids, exclude, flags & table.contraindicating), build)


_ALLOWED: PerKnowledgeBase[tuple[tuple[str, ...], frozenset[str], frozenset[str]], Array] = PerKnowledgeBase(1024)


def candidate_tests(table: CompiledTests, prior: Array, allowed: Array) -> tuple[int, ...]:
    """The tests a greedy round can choose for this planning distribution, in table order:
    allowed, and not constant over the conditions the distribution gives any mass to.

    Why: a test whose ``P(abnormal | c)`` is the same for every condition with mass leaves
    the posterior where it is (Bayes' rule divides the constant out), so its information is
    zero up to rounding (~1e-13 nats): far below ``MIN_INFORMATION``, it can never be the pick
    that is kept, and when it is the round's best the round stops either way.  A roster's
    searches have 3 such informative tests on average of 19 (twelfth pass), so valuing only
    these cuts the array passes' test axis ~6x.  Memoised per (table, which conditions have
    mass, allowed tests): a roster has a few hundred combinations."""
    support = prior > 0

    def build() -> tuple[int, ...]:
        values = table.planning[:, support]
        informative = (values != values[:, :1]).any(axis=1) & allowed
        return tuple(int(t) for t in np.flatnonzero(informative))

    return _CANDIDATES.get(table, (support.tobytes(), allowed.tobytes()), build)


_CANDIDATES: PerObject[CompiledTests, tuple[bytes, bytes], tuple[int, ...]] = PerObject(4096)

"""What the work-up reads of a differential: its columns, not a condition object per condition.

Why its own type: the work-up values tests against the differential's probabilities and
quotes only a few conditions by name (the leader, the don't-miss list), yet reading every
condition of a 35-condition differential message into a ``ScoredCondition`` cost ~70 us per
athlete of a roster, more than building the search (docs/performance.md, seventh pass).  The
handler reads the ids and probabilities as columns straight from the message; a
``Differential`` (the single-case domain path, the post-test re-ranking) becomes the same
``Ranked`` through ``ranked_of``, so both paths run the same code after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.knowledge.clinical import Differential, ScoredCondition, Triage


@dataclass(frozen=True, slots=True)
class Ranked:
    """A differential as the work-up reads it."""

    ids: tuple[str, ...]  # the conditions' ids, in the differential's order
    probabilities: tuple[float, ...]  # their probabilities, in the same order
    dont_miss: tuple[ScoredCondition, ...]
    triage: Triage
    leader: ScoredCondition | None  # the first most probable condition (None: no conditions)


def ranked_of(differential: Differential) -> Ranked:
    """The columns of a domain ``Differential``, its leader by ``leader_index``."""
    conditions = differential.conditions
    probabilities = tuple(c.probability for c in conditions)
    return Ranked(
        ids=tuple(c.condition_id for c in conditions),
        probabilities=probabilities,
        dont_miss=differential.dont_miss,
        triage=differential.triage,
        leader=conditions[leader_index(probabilities)] if conditions else None,
    )


def leader_index(probabilities: tuple[float, ...]) -> int:
    """The leader's index: the first of the largest probabilities (``max``'s pick on ties), the
    one leader rule of ``ranked_of`` and ``handlers.ranked_from_pb``."""
    return max(range(len(probabilities)), key=probabilities.__getitem__)

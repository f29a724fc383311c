"""An athlete's screening result does not depend on the athletes screened beside it.

A roster is cut into chunks (``FOOTCDS_SCREENING_CHUNK_SIZE``) and each chunk may run on any
worker and any differential replica, or be retried. `make compose-scale` found ~10% of the
athletes' probabilities differing in their last bits (up to 61 ulps) between the stack
(chunks of 50) and the in-process reference (chunks of 250): the ranking's matrix products
left the order of the additions to BLAS, which picks it by the shape of the whole chunk
(docs/performance.md, sixth pass). These tests hold the fix: the same roster in chunks of
different sizes gives the same bytes per athlete and a batch row equals the case ranked alone
(Assess). The fix is that every sum is exact (``model.sum_grid``; ``tests/test_sum_grid.py``
proves it for any order, shape and kernel), so it does not rest on OpenBLAS's internals.
"""

from __future__ import annotations

import io

import numpy as np

from bench.ranking import cases as drawn_cases
from services.cli.roster import Roster, parse_roster, synthesize, write_roster
from services.cli.screen import screen_local
from services.differential import ranking
from services.differential.model import default_model
from services.knowledge.loader import knowledge_base


def athletes(n: int, seed: int) -> Roster:
    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), n, seed), text)
    roster = parse_roster(text.getvalue())
    assert not roster.rejected and len(roster.entries) == n
    return roster


def screened_bytes(roster: Roster, chunk_size: int) -> dict[str, bytes]:
    done = screen_local(roster, team_label="t", chunk_size=chunk_size, show_progress=False)
    return {r.athlete_ref: r.SerializeToString(deterministic=True) for r in done.results}


def test_a_roster_screened_in_chunks_of_any_size_gives_every_athlete_the_same_bytes() -> None:
    """What a replica stop, a retried chunk or another chunk size changes: the neighbours."""
    roster = athletes(600, seed=2)
    whole = screened_bytes(roster, 600)
    assert len(whole) == 600
    for size in (7, 50, 250):
        got = screened_bytes(roster, size)
        differing = sorted(ref for ref in whole if got[ref] != whole[ref])
        assert not differing, f"chunks of {size}: {len(differing)} athletes differ, e.g. {differing[:3]}"


def test_a_batch_row_is_the_case_ranked_alone_bit_for_bit() -> None:
    """Assess ranks one case (``posterior``), a roster a batch: the same probabilities."""
    model = default_model()
    cases = drawn_cases(400)
    batch = ranking.posterior_batch(cases, model)
    alone = np.vstack([ranking.posterior(c, model) for c in cases])
    assert np.array_equal(batch, alone)
    pieces = np.vstack([ranking.posterior_batch(cases[i:i + 13], model) for i in range(0, len(cases), 13)])
    assert np.array_equal(pieces, batch)

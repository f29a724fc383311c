"""A roster's repeated athlete inputs are screened once across the whole roster, not per chunk.

``chunked_by_input`` puts every repeat of an input in the chunk of its first athlete, so the
chunk's ``_distinct`` sees them all (docs/performance.md, tenth pass).  What a user would
notice if it went wrong: an athlete missing or twice, a line that differs from screening that
athlete alone, chunks that grow past their bound, or - for a roster without repeats - chunks
that differ from the plain consecutive ones the results were measured on.
"""

from __future__ import annotations

import random

from footcds.v1 import encounter_pb2

from services.pipeline.screening import (
    LocalBatchCalls,
    chunked,
    chunked_by_input,
    input_key,
    prepare,
    screen_chunk,
    screen_roster,
)
from tests.test_screening_distinct import CountingCalls, copy_of, synthetic


def team_roster(n: int, distinct: int, seed: int) -> list[encounter_pb2.RosterEntry]:
    """``n`` athletes drawn from ``distinct`` inputs, repeats scattered over the whole roster."""
    base = synthetic(distinct, seed=seed)
    rng = random.Random(seed)
    return [copy_of(base[rng.randrange(distinct)], f"A{i:04d}") for i in range(n)]


def test_a_roster_without_repeats_gets_the_plain_consecutive_chunks() -> None:
    accepted = prepare(synthetic(60, seed=11)).accepted
    assert len({input_key(e) for _, e in accepted}) == len(accepted)  # the premise
    for size in (1, 7, 25, 60, 100):
        assert chunked_by_input(accepted, size) == chunked(accepted, size)


def test_each_distinct_input_goes_to_the_stages_once_across_every_chunk() -> None:
    roster = team_roster(90, distinct=12, seed=4)
    accepted = prepare(roster).accepted
    chunks = chunked_by_input(accepted, 5)

    assert sorted(p for chunk in chunks for p, _ in chunk) == list(range(len(roster)))  # each once
    assert [len({input_key(e) for _, e in chunk}) for chunk in chunks] == [5, 5, 2]  # bounded by size
    calls = CountingCalls()
    grouped = [r for chunk in chunks for r in screen_chunk(chunk, calls)]
    assert calls.items["intake"] == calls.items["workup"] == calls.items["treatment"] == 12

    # The consecutive chunks of the same size send repeats to the stages again ...
    plain = CountingCalls()
    consecutive = [r for chunk in chunked(accepted, 5) for r in screen_chunk(chunk, plain)]
    assert plain.items["intake"] > 12
    # ... and every athlete's line is byte for byte the same either way, and its own.
    as_bytes = {p: r.SerializeToString(deterministic=True) for p, r in grouped}
    assert as_bytes == {p: r.SerializeToString(deterministic=True) for p, r in consecutive}
    for position, entry in accepted[::17]:
        (_, alone), = screen_chunk([(position, entry)], LocalBatchCalls())
        assert as_bytes[position] == alone.SerializeToString(deterministic=True)
        assert alone.athlete_ref == entry.athlete_ref and alone.row_number == position + 1


def test_screen_roster_groups_the_whole_roster_and_keeps_roster_order() -> None:
    roster = team_roster(40, distinct=6, seed=9)
    calls = CountingCalls()
    results = screen_roster(roster, calls, chunk_size=4)
    assert [r.athlete_ref for r in results] == [e.athlete_ref for e in roster]
    assert calls.items["intake"] == 6

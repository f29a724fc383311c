"""A roster's repeated athlete inputs are screened together, not once per chunk they fall in.

``chunked_by_input`` orders the roster by input before cutting it in chunks, so each chunk's
``_distinct`` sees an input's repeats together (docs/performance.md, tenth pass).  What a user would
notice if it went wrong: an athlete missing or twice, a line that differs from screening that
athlete alone, chunks that grow past their size, or - for a roster without repeats - chunks
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


def test_repeats_scattered_over_the_roster_are_screened_together_in_even_chunks() -> None:
    roster = team_roster(90, distinct=12, seed=4)
    accepted = prepare(roster).accepted
    chunks = chunked_by_input(accepted, 20)

    assert sorted(p for chunk in chunks for p, _ in chunk) == list(range(len(roster)))  # each once
    assert [len(chunk) for chunk in chunks] == [20, 20, 20, 20, 10]  # as many and as even as before
    calls = CountingCalls()
    grouped = [r for chunk in chunks for r in screen_chunk(chunk, calls)]
    # Each input once, or once more for each chunk boundary its repeats straddle.
    assert 12 <= calls.items["intake"] <= 12 + len(chunks) - 1
    assert calls.items["intake"] == calls.items["workup"] == calls.items["treatment"]

    # The consecutive chunks of the same size send the repeats to the stages again and again ...
    plain = CountingCalls()
    consecutive = [r for chunk in chunked(accepted, 20) for r in screen_chunk(chunk, plain)]
    assert plain.items["intake"] >= 12 + 2 * len(chunks)
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
    results = screen_roster(roster, calls, chunk_size=20)
    assert [r.athlete_ref for r in results] == [e.athlete_ref for e in roster]
    assert 6 <= calls.items["intake"] <= 6 + 1  # two chunks: one boundary

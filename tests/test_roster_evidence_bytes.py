"""A roster row's findings merged from memoised entry bytes are the entries added one by one.

``cli.roster.parse_row`` encodes each (finding, state) once and parses a row's run of entries
in one C call (docs/performance.md, thirteenth pass); these tests hold it to the plain loop
(an ``Evidence`` added per finding, present then absent), written out here.
"""

from __future__ import annotations

import io
import random
from typing import Any

from footcds.v1 import common_pb2, encounter_pb2

from services.cli.roster import parse_roster, parse_row, synthesize, write_roster
from services.knowledge.loader import knowledge_base
from services.wire import encoding


def plain_entry(cells: dict[str, str], row: int) -> encounter_pb2.RosterEntry:
    """``parse_row``'s entry with its findings added the plain way."""
    bare: dict[Any, Any] = {**cells, "present": "", "absent": ""}
    entry, _ = parse_row(bare, row)
    for column, state in (("present", common_pb2.EVIDENCE_STATE_PRESENT), ("absent", common_pb2.EVIDENCE_STATE_ABSENT)):
        for item in cells.get(column, "").split(";"):
            if item.strip():
                entry.evidence.add(finding_id=item.strip(), state=state)
    return entry


def test_synthetic_rows_parse_to_the_plain_entries_byte_for_byte() -> None:
    text = io.StringIO()
    rows = list(synthesize(knowledge_base(), 300, seed=5))
    write_roster(iter(rows), text)
    parsed = parse_roster(text.getvalue()).entries
    assert len(parsed) == len(rows)
    for number, (cells, entry) in enumerate(zip(rows, parsed, strict=True), start=1):
        assert entry.SerializeToString() == plain_entry(cells, number).SerializeToString()


def test_odd_cells_keep_their_entries_order_and_text() -> None:
    """Spaces, empty items, repeats, unknown and non-ASCII ids, and more distinct ids than the
    memo holds: the same entries in the same order as the plain loop."""
    rng = random.Random(3)
    stranger = [f"x_{i}" for i in range((encoding.evidence_entry.cache_info().maxsize or 0) + 50)]
    cases = [
        {"athlete_id": "A1", "present": " loc_sole ; ;loc_sole;; ", "absent": "sx_weakness; pain_night "},
        {"athlete_id": "A2", "present": "", "absent": ""},
        {"athlete_id": "A3", "present": "ünïcode_id;Bad Id", "absent": "loc_sole"},
        {"athlete_id": "A4", "present": ";".join(rng.sample(stranger, len(stranger))),
         "absent": ";".join(stranger[:40])},
    ]
    for number, cells in enumerate(cases, start=1):
        raw: dict[Any, Any] = dict(cells)
        entry, problems = parse_row(raw, number)
        assert not problems
        assert entry == plain_entry(cells, number)
        assert entry.SerializeToString() == plain_entry(cells, number).SerializeToString()

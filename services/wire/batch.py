"""The one per-item loop of every batch RPC: each item checked and run on its own.

A batch answers every item: a rejected item gets a ``BatchItemError`` naming its fields
(``items[i].…``) and the others still run.  The four batch handlers share this loop instead
of each writing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from footcds.v1 import common_pb2
from google.protobuf.message import Message

from services.platform import contract
from services.platform.errors import InvalidInput
from services.wire import convert

Item = TypeVar("Item", bound=Message)
Answer = TypeVar("Answer")


def each_item(
    items: Sequence[Item], run: Callable[[Item, str], Answer]
) -> Iterator[tuple[int, Answer | common_pb2.BatchItemError]]:
    """(index, ``run(item, "items[i].")`` or the item's error), in order."""
    for index, item in enumerate(items):
        prefix = f"items[{index}]."
        try:
            contract.check(item, prefix)  # the batch's items are checked one by one
            yield index, run(item, prefix)
        except InvalidInput as exc:
            yield index, convert.batch_error(index, exc.violations)

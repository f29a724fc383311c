"""The one per-item loop of every batch RPC: each item checked and run on its own.

A batch answers every item: a rejected item gets a ``BatchItemError`` naming its fields
(``items[i].…``) and the others still run.  The four batch handlers share this loop instead
of each writing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import grpc
from footcds.v1 import common_pb2
from google.protobuf.message import Message

from services.platform import contract
from services.platform.errors import InvalidInput
from services.wire import convert
from services.wire.encoding import varint

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


# --- batch responses as bytes ---------------------------------------------------------------
# The ranking and treatment batches answer each item from bytes they already have (the
# differential from its cached pieces, the plan from the plan cache).  Parsing those bytes
# into a response message only for gRPC to serialize it again cost each service ~13% of its
# CPU on a roster (thirteenth pass); the servicers return these bytes and their batch method
# passes them through (``bytes_responses``).  The response's own fields are in field-number
# order, as upb writes them; the answers are spliced as the handler holds them, so the bytes
# parse to the very message built before (tests/test_batch_response_bytes.py).

_TAG_RESULTS = b"\x0a"  # *BatchResponse.results = 1
_TAG_INDEX = b"\x08"  # *BatchResult.index = 1 (varint)
_TAG_ANSWER = b"\x12"  # *BatchResult.differential / .plan = 2
_TAG_ERROR = b"\x1a"  # *BatchResult.error = 3


def check_result_tags(response: type[Message], answer: str) -> None:
    """The tags above against a batch response's descriptor (called at import by each user):
    a renumbered field must fail loudly, not put a plan in the wrong field."""
    result = response.DESCRIPTOR.fields_by_name["results"]
    assert result.message_type is not None  # a repeated message field
    fields = result.message_type.fields_by_name
    found = (result.number, fields["index"].number, fields[answer].number, fields["error"].number)
    expected = tuple(tag[0] >> 3 for tag in (_TAG_RESULTS, _TAG_INDEX, _TAG_ANSWER, _TAG_ERROR))
    if found != expected or max(f.number for f in response.DESCRIPTOR.fields) > 15:
        raise RuntimeError(f"{response.DESCRIPTOR.name}'s fields were renumbered: update wire.batch")


def response_bytes(outcomes: Iterable[tuple[int, bytes | common_pb2.BatchItemError]], tail: bytes) -> bytes:
    """A serialized ``*BatchResponse``: a result per (index, the answer's bytes or the item's
    error), in order, then ``tail``, the response serialized with only its kb_version and
    disclaimer (fields 14 and 15).  A result is its index (absent when 0, as proto3 writes it)
    then its answer; every piece is joined once (each answer's bytes copied once)."""
    pieces: list[bytes] = []
    add = pieces.extend
    for index, answer in outcomes:
        head = _TAG_INDEX + varint(index) if index else b""
        if isinstance(answer, bytes):
            inner_tag = _TAG_ANSWER
        else:
            inner_tag, answer = _TAG_ERROR, answer.SerializeToString()
        size = varint(len(answer))
        add((_TAG_RESULTS, varint(len(head) + 1 + len(size) + len(answer)), head, inner_tag, size, answer))
    pieces.append(tail)
    return b"".join(pieces)


@lru_cache(maxsize=8)
def response_tail(response: type[Message], kb_version: str, disclaimer: str) -> bytes:
    """``response_bytes``' tail: the batch response serialized with only its kb_version and disclaimer."""
    return response(kb_version=kb_version, disclaimer=disclaimer).SerializeToString()


def bytes_responses(
    add_to_server: Callable[[Any, Any], None], servicer: Any, server: grpc.Server, methods: Iterable[str]
) -> None:
    """``add_to_server(servicer, server)`` (a generated ``add_*Servicer_to_server``), except that
    the named methods' behaviours may return the serialized response as ``bytes``, which are
    sent as they are (any other return is serialized as before)."""
    names = set(methods)
    captured: list[tuple[str, dict[str, grpc.RpcMethodHandler]]] = []

    class _Recorder:
        def add_generic_rpc_handlers(self, handlers: Any) -> None:
            """The same handlers are registered below, by name."""

        def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
            captured.append((service, handlers))

    add_to_server(servicer, _Recorder())
    for service, handlers in captured:
        unknown = names - set(handlers)
        if unknown:
            raise ValueError(f"{service} has no method {sorted(unknown)}")
        rebuilt = {
            name: grpc.unary_unary_rpc_method_handler(
                h.unary_unary, request_deserializer=h.request_deserializer,
                response_serializer=_passing_bytes(h.response_serializer),
            ) if name in names else h
            for name, h in handlers.items()
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, rebuilt),))
        server.add_registered_method_handlers(service, rebuilt)


def _passing_bytes(serialize: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    def serialized(response: Any) -> bytes:
        if isinstance(response, bytes):
            return response
        assert serialize is not None
        return serialize(response)

    return serialized

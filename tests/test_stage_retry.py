"""A stage call cut off by a replica that stops mid-call is retried, not failed.

`make compose-scale` stops a differential replica while a roster runs; a chunk's call that raced
the replica's shutdown came back CANCELLED (the server reset the stream it had not taken yet:
HTTP/2's CANCEL is gRPC's CANCELLED) and, not being retryable then, failed the whole roster. A
real server stopping while it holds a call gives UNAVAILABLE; the reset stream's race is injected
(a CANCELLED error at the channel's boundary), as it cannot be timed here.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
import pytest

from services.pipeline.errors import retry_pause

_HELD = "/footcds.test.Held/Hold"


def _server_holding_one_call(started: threading.Event, release: threading.Event) -> tuple[grpc.Server, int]:
    def hold(request: bytes, context: grpc.ServicerContext) -> bytes:
        if request == b"bad":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "field: bad")
        started.set()
        release.wait(10)
        return b"done"

    handler = grpc.method_handlers_generic_handler(
        "footcds.test.Held", {"Hold": grpc.unary_unary_rpc_method_handler(hold)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=(handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def test_a_call_cut_off_by_a_stopping_replica_is_retried_and_a_bad_request_is_not() -> None:
    started, release = threading.Event(), threading.Event()
    server, port = _server_holding_one_call(started, release)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            hold = channel.unary_unary(_HELD)
            with pytest.raises(grpc.RpcError) as bad:
                hold(b"bad", timeout=5)
            pending = hold.future(b"hold", timeout=5)
            assert started.wait(5)
            server.stop(0).wait()  # the replica goes while it holds the call
            with pytest.raises(grpc.RpcError) as cut:
                pending.result()
    finally:
        release.set()
        server.stop(0)
    deadline = time.time() + 5
    assert retry_pause(cut.value, 0, deadline) is not None, cut.value.code()
    assert retry_pause(bad.value, 0, deadline) is None


class _ResetStream(grpc.RpcError):
    """What the channel raises for a stream the stopping server reset (failure injection)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.CANCELLED

    def details(self) -> str:
        return "CANCELLED"


def test_a_call_whose_stream_a_stopping_replica_reset_is_retried_while_time_remains() -> None:
    assert retry_pause(_ResetStream(), 0, time.time() + 5) is not None
    assert retry_pause(_ResetStream(), 0, time.time()) is None  # never past the caller's deadline

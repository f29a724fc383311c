"""The bare gRPC ceiling: a trivial unary echo servicer in its own process.

``python -m bench.echo sync PORT`` serves with the same thread-pool ``grpc.server``, pool
size and options as every FootCDS service (services.platform.server); ``aio`` serves the
same method with ``grpc.aio`` so the server choice can be re-checked by measurement.
Messages are raw bytes (no protobuf), so this is gRPC and nothing else.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent import futures

import grpc

from services.platform.config import settings
from services.platform.server import server_options

METHOD = "/footcds.bench.Echo/Echo"
PAYLOAD = b"x" * 256  # about the size of an AssessRequest


def _echo(request: bytes, _context: object) -> bytes:
    return request


async def _echo_async(request: bytes, _context: object) -> bytes:
    return request


def _handler(fn: Callable[[bytes, object], bytes | Awaitable[bytes]]) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "footcds.bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(fn)}
    )


def serve_sync(port: int) -> None:
    cfg = settings()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=cfg.server_workers), options=server_options(cfg))
    server.add_generic_rpc_handlers((_handler(_echo),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    server.stop(0)


def serve_aio(port: int) -> None:
    async def main() -> None:
        server = grpc.aio.server(options=server_options(settings()))
        server.add_generic_rpc_handlers((_handler(_echo_async),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await server.stop(0)

    asyncio.run(main())


def stub(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    """The client side: bytes in, bytes out."""
    return channel.unary_unary(METHOD)


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    serve_sync(port) if kind == "sync" else serve_aio(port)

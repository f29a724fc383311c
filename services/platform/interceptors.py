"""What every FootCDS server interceptor shares: wrapping a method handler's behaviour.

A server interceptor only sees the method name and the metadata; the peer's certificate,
the status a handler set, and the response live on the ``ServicerContext``. So the
interceptors here (auth, limits, metrics, audit) all wrap the handler's behaviour function
instead: ``wrap_handler`` rebuilds the handler around a wrapped behaviour, keeping its
(de)serializers, for unary and streaming responses alike.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

Behavior = Callable[[Any, grpc.ServicerContext], Any]
T = TypeVar("T")
# (behaviour, method, streaming response?) -> wrapped behaviour
Wrapper = Callable[[Behavior, str, bool], Behavior]


def wrap_handler(
    handler: grpc.RpcMethodHandler | None, method: str, wrap: Wrapper,
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler | None:
    """The same handler with its behaviour wrapped; ``None`` (unknown method) stays ``None``."""
    if handler is None:
        return None
    common = {
        "request_deserializer": request_deserializer or handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary, method, False), **common)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream, method, True), **common)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary, method, False), **common)
    return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream, method, True), **common)


def status_of(context: grpc.ServicerContext, error: BaseException | None = None) -> grpc.StatusCode:
    """The status a call ended with: what the handler set (abort/set_code), else from ``error``."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, GeneratorExit):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


def split_method(method: str) -> tuple[str, str]:
    """``/footcds.v1.EncounterService/Assess`` -> (``footcds.v1.EncounterService``, ``Assess``)."""
    _, _, rest = method.partition("/")
    service, _, name = rest.partition("/")
    return service, name


def iterate(behavior: Behavior, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
    """A streaming behaviour's responses (typed helper for ``yield from``)."""
    responses: Iterator[Any] = behavior(request, context)
    return responses


def around(
    behavior: Behavior,
    streaming: bool,
    enter: Callable[[grpc.ServicerContext], T],
    leave: Callable[[T], None],
) -> Behavior:
    """``behavior`` run between ``enter(context)`` and ``leave(entered)``, for unary and
    streaming responses alike (a stream leaves when its last response is sent)."""
    if streaming:
        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            entered = enter(context)
            try:
                yield from iterate(behavior, request, context)
            finally:
                leave(entered)

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        entered = enter(context)
        try:
            return behavior(request, context)
        finally:
            leave(entered)

    return unary


class Malformed:
    """What the guarded deserializer hands on instead of raising: the bytes did not parse."""

    __slots__ = ("error", "size")

    def __init__(self, error: Exception, size: int) -> None:
        self.error = error
        self.size = size


class BehaviorInterceptor(grpc.ServerInterceptor):
    """Base of the interceptors that wrap a handler's behaviour: subclasses give ``_wrap``."""

    @abc.abstractmethod
    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        """The method's behaviour with this interceptor's work around it."""

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        return wrap_handler(continuation(handler_call_details), method, self._wrap)


class MalformedRequestGuard(grpc.ServerInterceptor):
    """Bytes that are not the method's request message get INVALID_ARGUMENT, not INTERNAL.

    gRPC answers a deserializer exception with INTERNAL ("Exception deserializing request!"),
    which says "our bug" about the caller's bad bytes. The guarded deserializer returns a
    ``Malformed`` marker instead and the behaviour aborts with INVALID_ARGUMENT. Installed
    innermost, so credentials are checked first: strangers learn nothing about parsing.
    Unary requests only (every FootCDS RPC); streaming requests (reflection) keep gRPC's way.
    """

    @staticmethod
    def _guard(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        def guarded(raw: bytes) -> Any:
            try:
                return deserialize(raw)
            except Exception as exc:  # DecodeError, invalid UTF-8 in a string field, ...
                return Malformed(exc, len(raw))

        return guarded

    @staticmethod
    def _wrap(behavior: Behavior, method: str, streaming: bool) -> Behavior:
        def check(request: Any, context: grpc.ServicerContext) -> None:
            if isinstance(request, Malformed):
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the request ({request.size} bytes) is not a valid {method} request message",
                )

        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                check(request, context)
                yield from iterate(behavior, request, context)

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            check(request, context)
            return behavior(request, context)

        return unary

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        method: str = handler_call_details.method
        return wrap_handler(handler, method, self._wrap, self._guard(handler.request_deserializer))

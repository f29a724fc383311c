"""Bad input as data (``InvalidInput``) and its gRPC form (INVALID_ARGUMENT + BadRequest).

Domain functions raise ``InvalidInput`` with one violation per bad field; servicers never
build statuses by hand, they wrap their methods with ``translate_errors``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    description: str


class InvalidInput(ValueError):
    """The request is wrong; ``violations`` name each bad field."""

    def __init__(self, violations: Iterable[Violation], message: str = "invalid request") -> None:
        self.violations = list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations[:5])
        super().__init__(f"{message}: {summary}" if summary else message)


class LimitExceeded(Exception):
    """A configured limit was exceeded; the message names the limit."""


def bad_request_status(violations: Iterable[Violation], message: str) -> grpc.Status:
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[packed])
    return rpc_status.to_status(status)


def violations_of(error: grpc.RpcError) -> list[Violation]:
    """The BadRequest field violations carried by an RPC error (empty when none)."""
    status = rpc_status.from_call(error)
    out: list[Violation] = []
    if status is None:
        return out
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.extend(Violation(v.field, v.description) for v in bad.field_violations)
    return out


F = TypeVar("F", bound=Callable[..., Any])


def translate_errors(method: F) -> F:
    """Servicer decorator: domain exceptions become gRPC statuses with details."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except InvalidInput as exc:
            context.abort_with_status(bad_request_status(exc.violations, str(exc)))
        except LimitExceeded as exc:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))

    return wrapper  # type: ignore[return-value]

"""How a stage failure travels from a task back to the encounter service.

A non-retryable gRPC error (bad input, a bug) or an expired deadline becomes
``StageFailed``, whose arguments are plain values so Celery can serialize it; the encounter
service turns it back into the same gRPC status with the same field violations.
"""

from __future__ import annotations

import time

import grpc

from services.platform.config import settings
from services.platform.errors import Violation, violations_of


class StageFailed(Exception):
    """A pipeline stage failed for a reason retrying cannot fix."""

    def __init__(
        self, code: str, message: str, violations: list[list[str]] | None = None
    ) -> None:
        super().__init__(code, message, violations or [])
        self.code = code
        self.message = message
        self.violations = [Violation(f, d) for f, d in (violations or [])]

    @classmethod
    def from_rpc_error(cls, stage: str, error: grpc.RpcError) -> StageFailed:
        code = error.code()
        details = error.details() or ""
        return cls(
            code.name,
            f"{stage}: {details}",
            [[v.field, v.description] for v in violations_of(error)],
        )

    def status_code(self) -> grpc.StatusCode:
        return grpc.StatusCode[self.code] if self.code in grpc.StatusCode.__members__ else grpc.StatusCode.INTERNAL


# CANCELLED too: the pipeline never cancels a stage call whose answer it still awaits, so a
# CANCELLED it reads came from the server - a replica stopping with the call still held past its
# grace (a roster's chunk met it in `make compose-scale`); the stages are idempotent, so the call
# goes again, to a sibling.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
RETRY_BASE_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0


def retry_pause(error: grpc.RpcError, attempt: int, deadline: float) -> float | None:
    """Seconds to back off before retrying a failed call, or None when it must fail now.

    One policy for the Celery stage tasks and the direct path: only UNAVAILABLE,
    DEADLINE_EXCEEDED and CANCELLED (``RETRYABLE``) are retried, at most
    ``FOOTCDS_TASK_MAX_RETRIES`` times, with doubling pauses, and never past the caller's deadline.
    """
    if error.code() not in RETRYABLE or attempt >= settings().task_max_retries:
        return None
    pause = min(RETRY_BASE_SECONDS * 2**attempt, RETRY_MAX_SECONDS)
    return pause if time.time() + pause < deadline else None

"""Deadlines cross process boundaries as absolute wall-clock times (epoch seconds).

gRPC carries a deadline between a client and a server, but a Celery hop does not; the
encounter service turns the caller's remaining time into an absolute deadline, and every
task turns it back into a per-call timeout.
"""

from __future__ import annotations

import time


class DeadlineExpired(TimeoutError):
    """The caller's deadline has passed; no further work is worth doing."""


def deadline_from_timeout(timeout_s: float) -> float:
    return time.time() + timeout_s


def remaining(deadline: float, cap: float | None = None) -> float:
    """Seconds left before ``deadline``, at most ``cap``; raises when none are left."""
    left = deadline - time.time()
    if left <= 0.001:
        raise DeadlineExpired("deadline exceeded")
    return min(left, cap) if cap is not None else left

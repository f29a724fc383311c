"""Deadlines: every call gets a bounded budget, and it crosses process boundaries as wall time.

gRPC reports "no deadline" as an astronomically large remaining time (grpcio's
``time_remaining()`` is 9.2e18 seconds then), and turning that into a Celery expiry, a Redis
wait or a socket timeout overflowed a C int ("Python int too large to convert to C int",
issue 11). So no code reads ``context.time_remaining()`` directly: ``call_budget`` turns it
into seconds that are always finite - the caller's deadline when it set one (capped at
``max_deadline_seconds``), else the server's default budget (``default_deadline_seconds``
for unary RPCs, ``default_stream_deadline_seconds`` for streams).  ``BudgetInterceptor``
hands every servicer a context whose ``time_remaining()`` is that budget, and ends a stream
that outlives it with DEADLINE_EXCEEDED.

A Celery hop carries no gRPC deadline: the encounter service turns the budget into an
absolute deadline (epoch seconds), and every task turns it back into a per-call timeout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import grpc

from services.platform.config import Settings, settings
from services.platform.interceptors import Behavior, BehaviorInterceptor, iterate

# A remaining time beyond this is gRPC's way of saying "the caller set no deadline".
NO_DEADLINE_SECONDS = 10 * 365 * 86400.0


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


def budget_seconds(time_remaining: float | None, streaming: bool, cfg: Settings | None = None) -> float:
    """A call's budget from what gRPC reports as its remaining time; always finite."""
    cfg = cfg or settings()
    if time_remaining is None or not math.isfinite(time_remaining) or time_remaining > NO_DEADLINE_SECONDS:
        return cfg.default_stream_deadline_seconds if streaming else cfg.default_deadline_seconds
    return max(0.0, min(time_remaining, cfg.max_deadline_seconds))


def call_budget(context: grpc.ServicerContext) -> float:
    """Seconds this call may still take (a ``BudgetedContext`` knows; a bare one is bounded here)."""
    if isinstance(context, BudgetedContext):
        return context.time_remaining()
    left: float | None = context.time_remaining()
    return budget_seconds(left, streaming=False)


class BudgetedContext:
    """A ``ServicerContext`` whose ``time_remaining()`` is the call's finite budget.

    Everything else is the real context's; servicers and interceptors cannot tell the difference
    except that the remaining time is a number any timeout API accepts.
    """

    __slots__ = ("_context", "_ends")

    def __init__(self, context: grpc.ServicerContext, budget: float) -> None:
        self._context = context
        self._ends = time.monotonic() + budget

    def time_remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._ends

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class BudgetInterceptor(BehaviorInterceptor):
    """Gives every call, unary or streaming, on every service a finite budget (module docstring)."""

    def __init__(self, cfg: Settings | None = None) -> None:
        self._cfg = cfg or settings()

    def _budgeted(self, context: grpc.ServicerContext, streaming: bool) -> BudgetedContext:
        return BudgetedContext(context, budget_seconds(context.time_remaining(), streaming, self._cfg))

    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                budgeted = self._budgeted(context, True)
                for response in iterate(behavior, request, budgeted):
                    if budgeted.expired():
                        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                      f"{method}: the stream outlived its budget; call again to continue")
                    yield response

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            return behavior(request, self._budgeted(context, False))

        return unary


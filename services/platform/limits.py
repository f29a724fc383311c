"""Limits that keep one client from starving the others, each refusal naming its limit.

* Per-client concurrency: at most ``max_concurrent`` calls of one client are handled at once
  (the client's ``max_concurrent`` in the tokens file, else
  ``FOOTCDS_MAX_CONCURRENT_PER_CLIENT``); one more is RESOURCE_EXHAUSTED at once instead of
  queueing behind the others' work. A server has ``FOOTCDS_SERVER_WORKERS`` threads, so the
  default (16 of 32) leaves room for everyone else.
* Message size: ``FOOTCDS_MAX_MESSAGE_BYTES`` is enforced by gRPC itself before a handler
  runs; it answers RESOURCE_EXHAUSTED "Received message larger than max (N vs. LIMIT)".
* Roster size: ``FOOTCDS_SCREENING_MAX_ATHLETES``, checked by the screening service.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import grpc

from services.platform.auth import current_principal
from services.platform.config import Settings, settings
from services.platform.interceptors import Behavior, BehaviorInterceptor, around


class ConcurrencyLimit(BehaviorInterceptor):
    """Counts each client's calls in flight; installed after auth (it needs the client id)."""

    def __init__(self, cfg: Settings | None = None) -> None:
        self.default_limit = (cfg or settings()).max_concurrent_per_client
        self._lock = threading.Lock()
        self._in_flight: defaultdict[str, int] = defaultdict(int)

    def in_flight(self, client_id: str) -> int:
        with self._lock:
            return self._in_flight[client_id]

    def _acquire(self, context: grpc.ServicerContext) -> str | None:
        principal = current_principal()
        if principal is None or principal.via == "off":  # health, reflection; or no clients to tell apart
            return None
        limit = principal.max_concurrent or self.default_limit
        with self._lock:
            if self._in_flight[principal.client_id] < limit:
                self._in_flight[principal.client_id] += 1
                return principal.client_id
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"per-client concurrency limit: client {principal.client_id!r} already has {limit} calls in flight "
            f"(max_concurrent / FOOTCDS_MAX_CONCURRENT_PER_CLIENT = {limit}); retry with backoff",
        )
        return None

    def _release(self, client_id: str | None) -> None:
        if client_id is None:
            return
        with self._lock:
            self._in_flight[client_id] -= 1
            if self._in_flight[client_id] <= 0:
                del self._in_flight[client_id]

    def _wrap(self, behavior: Behavior, method: str, streaming: bool) -> Behavior:
        return around(behavior, streaming, self._acquire, self._release)


"""Closed-loop load: one call at a time for latency, N threads for throughput.

A closed loop (each caller sends its next call when the previous one returns) measures
what a client sees with N requests in flight; every timestamp is ``perf_counter_ns``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Call = Callable[[], object]


def warm(call: Call, n: int) -> None:
    """Calls whose timings are thrown away: connections, caches, the JIT-less warm path."""
    for _ in range(n):
        call()


def latencies(call: Call, n: int) -> list[int]:
    """``n`` sequential calls (1 in flight); nanoseconds each."""
    out: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        call()
        out.append(clock() - start)
    return out


@dataclass(frozen=True)
class Throughput:
    per_second: float
    completed: int
    seconds: float
    latencies_ns: list[int]


def throughput(call: Call, inflight: int, seconds: float) -> Throughput:
    """``inflight`` threads calling back to back for ``seconds``; completed calls per second."""
    barrier = threading.Barrier(inflight + 1)
    stop_at = [0.0]
    lock = threading.Lock()
    samples: list[int] = []
    failures: list[BaseException] = []

    def caller() -> None:
        mine: list[int] = []
        clock = time.perf_counter_ns
        barrier.wait()
        try:
            while time.perf_counter() < stop_at[0] and not failures:
                start = clock()
                call()
                mine.append(clock() - start)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failures.append(exc)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(inflight)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} callers failed; first: {failures[0]!r}") from failures[0]
    return Throughput(len(samples) / elapsed, len(samples), elapsed, samples)

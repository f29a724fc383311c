"""Percentiles, medians and spread: how one figure is summarized from several repeats.

Every figure is measured ``repeats`` times; the reported value is the median of the
repeats and the spread is their interquartile range over the median ((max - min) / median
with fewer than four repeats).  A wide spread means the machine was busy with something
else while we measured, so the figure is flagged ``noisy`` rather than silently trusted.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

NOISY_SPREAD = 0.20  # spread of the repeats above this: the run was disturbed
NOISY_SPREAD_TAIL = 0.50  # p99s move more than medians even on a quiet machine


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[rank])


@dataclass(frozen=True)
class Summary:
    """One figure over its repeats."""

    value: float
    spread: float  # IQR / median of the repeats (range / median below 4 repeats; 0 with one)
    repeats: tuple[float, ...]
    noisy: bool


def summarize(repeats: Sequence[float], *, tail: bool = False) -> Summary:
    """Median of the repeats, their relative spread and whether that spread is too wide."""
    values = tuple(float(v) for v in repeats)
    if not values:
        raise ValueError("no repeats")
    median = statistics.median(values)
    if len(values) >= 4:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        width = q3 - q1
    else:
        width = max(values) - min(values)
    spread = width / median if median else 0.0
    limit = NOISY_SPREAD_TAIL if tail else NOISY_SPREAD
    return Summary(value=median, spread=spread, repeats=values, noisy=spread > limit)


def latency_percentiles(samples_ns: Sequence[int]) -> tuple[float, float]:
    """(p50, p99) in milliseconds of one run's latencies in nanoseconds."""
    ordered = sorted(samples_ns)
    return percentile(ordered, 50) / 1e6, percentile(ordered, 99) / 1e6

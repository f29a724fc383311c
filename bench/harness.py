"""Interleaved rounds: every probe is measured once per repeat, ceilings beside FootCDS.

Measuring the ceiling and FootCDS in the same repeat (rather than all ceilings first) means
a burst of outside load hits both, so their ratio stays meaningful on a shared machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import load
from bench.report import Figure
from bench.stats import Summary, latency_percentiles, percentile, summarize


@dataclass(frozen=True)
class Params:
    """How much to measure: ``make bench`` vs ``make bench-quick``."""

    quick: bool
    repeats: int  # latency repeats
    calls: int  # sequential calls per latency repeat (fewer for slow probes, see Probe.weight)
    warmup: int
    throughput_repeats: int
    throughput_seconds: float
    ranking_repeats: int

    @classmethod
    def make(cls, quick: bool) -> Params:
        # Many short repeats rather than a few long ones: a burst of outside load then spoils
        # one repeat (and the median shrugs it off) instead of a whole figure.
        if quick:
            return cls(True, repeats=4, calls=80, warmup=15, throughput_repeats=2,
                       throughput_seconds=1.0, ranking_repeats=7)
        return cls(False, repeats=10, calls=200, warmup=40, throughput_repeats=3,
                   throughput_seconds=2.0, ranking_repeats=15)


@dataclass
class Probe:
    """Something to call: a bare ceiling or a FootCDS path."""

    name: str
    call: load.Call
    weight: float = 1.0  # fraction of Params.calls (slow probes take fewer samples)
    inflight: tuple[int, ...] = ()  # throughput levels to measure, if any


@dataclass
class Rounds:
    """Per-repeat results, keyed by probe name (and in-flight level for throughput)."""

    p50: dict[str, list[float]] = field(default_factory=dict)
    p99: dict[str, list[float]] = field(default_factory=dict)
    samples: dict[str, list[int]] = field(default_factory=dict)  # every latency, pooled
    rps: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    cpu_ms: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # all processes, per call

    def p50_of(self, name: str) -> Summary:
        """Median of the repeats' p50s."""
        return summarize(self.p50[name])

    def p99_of(self, name: str) -> Summary:
        """p99 over all repeats' samples pooled (one repeat has too few for a tail), with the
        spread of the per-repeat p99s."""
        per_repeat = summarize(self.p99[name], tail=True)
        pooled = percentile(sorted(self.samples[name]), 99) / 1e6
        return Summary(pooled, per_repeat.spread, per_repeat.repeats, per_repeat.noisy)

    def rps_of(self, name: str, inflight: int) -> Summary:
        return summarize(self.rps[(name, inflight)])


def log(message: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def run_rounds(
    probes: list[Probe], params: Params, rounds: Rounds | None = None, cpu: Callable[[], float] | None = None
) -> Rounds:
    """``cpu``: CPU seconds used so far by every process involved (suite and this client);
    read around each throughput run, it gives CPU milliseconds per call."""
    rounds = rounds or Rounds()
    for probe in probes:
        load.warm(probe.call, max(5, int(params.warmup * probe.weight)))
    for repeat in range(params.repeats):
        for probe in probes:
            samples = load.latencies(probe.call, max(20, int(params.calls * probe.weight)))
            p50, p99 = latency_percentiles(samples)
            rounds.p50.setdefault(probe.name, []).append(p50)
            rounds.p99.setdefault(probe.name, []).append(p99)
            rounds.samples.setdefault(probe.name, []).extend(samples)
        log(f"latency repeat {repeat + 1}/{params.repeats} done")
    for repeat in range(params.throughput_repeats):
        for probe in probes:
            for inflight in probe.inflight:
                before = cpu() if cpu else 0.0
                result = load.throughput(probe.call, inflight, params.throughput_seconds)
                rounds.rps.setdefault((probe.name, inflight), []).append(result.per_second)
                if cpu and result.completed:
                    used_ms = (cpu() - before) * 1000 / result.completed
                    rounds.cpu_ms.setdefault((probe.name, inflight), []).append(used_ms)
        log(f"throughput repeat {repeat + 1}/{params.throughput_repeats} done")
    return rounds


@dataclass
class Collector:
    """Figures as they are made: each printed as a JSON line at once."""

    figures: list[Figure] = field(default_factory=list)
    by_name: dict[str, Figure] = field(default_factory=dict)
    emit: Callable[[str], None] = print

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        self.by_name[fig.name] = fig
        self.emit(fig.json_line())
        return fig

    def __getitem__(self, name: str) -> Figure:
        return self.by_name[name]

    def get(self, name: str) -> Figure | None:
        return self.by_name.get(name)

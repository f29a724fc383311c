"""Figures: one JSON line each, a readable table, and the raw run saved under bench/results/.

A figure carries its framework ceiling measured in the same run and the ratio between
them, so a figure from a busy machine can still be compared with one from a quiet one.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Summary

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured number, with its ceiling, ratio and goal when it has them."""

    name: str
    value: float
    unit: str
    spread: float = 0.0
    noisy: bool = False
    repeats: tuple[float, ...] = ()
    ceiling: str | None = None  # name of the ceiling figure
    ceiling_value: float | None = None
    ratio: float | None = None  # value / ceiling, or ceiling / value for rates (>1 = slower)
    goal: str | None = None  # "<= 5 ms", ">= 500 /s", "<= 1.5x"
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def json_line(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "", {}, ())}
        for key in ("value", "spread", "ceiling_value", "ratio"):
            if isinstance(data.get(key), float):
                data[key] = round(data[key], 4)
        data["repeats"] = [round(r, 4) for r in self.repeats]
        return json.dumps(data, sort_keys=False)


def figure(
    name: str,
    summary: Summary,
    unit: str,
    *,
    ceiling: Figure | None = None,
    rate: bool = False,
    goal: tuple[str, float] | None = None,
    goal_on_ratio: bool = False,
    note: str = "",
    also: tuple[Figure | None, ...] = (),
) -> Figure:
    """Build a figure; ``rate`` figures (per second) take the ratio the other way round so
    that a ratio above 1 always means "slower than the ceiling".  ``also``: further
    ceilings, whose ratios go into ``extra["vs"]``."""
    fig = Figure(
        name=name, value=summary.value, unit=unit, spread=summary.spread, noisy=summary.noisy,
        repeats=summary.repeats, note=note,
    )
    if ceiling is not None and ceiling.value and summary.value:
        fig.ceiling = ceiling.name
        fig.ceiling_value = ceiling.value
        fig.ratio = ceiling.value / summary.value if rate else summary.value / ceiling.value
    for other in also:
        if other is not None and other.value and summary.value:
            ratio = other.value / summary.value if rate else summary.value / other.value
            fig.extra.setdefault("vs", {})[other.name] = round(ratio, 3)
    if goal is not None:
        op, threshold = goal
        subject = fig.ratio if goal_on_ratio else fig.value
        fig.goal = f"{op} {threshold:g}{'x' if goal_on_ratio else ' ' + unit}"
        if subject is not None:
            fig.met = subject <= threshold if op == "<=" else subject >= threshold
    return fig


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value >= 0.01 else f"{value:.2g}"


def table(figures: Iterable[Figure]) -> str:
    """A fixed-width table: figure, value, spread, ceiling, ratio, goal."""
    rows = [("figure", "value", "spread", "ceiling", "ratio", "goal", "other ratios")]
    for f in figures:
        goal = ""
        if f.goal:
            goal = f"{f.goal} {'ok' if f.met else 'MISSED'}"
        spread = f"{f.spread:.0%}" + (" NOISY" if f.noisy else "")
        ceiling = f"{_fmt(f.ceiling_value)} ({f.ceiling.removeprefix('ceiling.')})" if f.ceiling else ""
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        others = ", ".join(f"{k.removeprefix('ceiling.')} {v:.2f}x" for k, v in f.extra.get("vs", {}).items())
        rows.append((f.name, f"{_fmt(f.value)} {f.unit}", spread, ceiling, ratio, goal, others))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=5).stdout
        redis_version = next((p.split("=")[1] for p in redis.split() if p.startswith("v=")), "")
    except (OSError, subprocess.SubprocessError):
        redis_version = ""
    import celery
    import grpc

    try:
        from os import sched_getaffinity

        cpus = len(sched_getaffinity(0))
    except (ImportError, AttributeError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 0
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),  # other work sharing the machine
        "cpu": model,
        "cpus": cpus,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "grpcio": grpc.__version__,
        "celery": celery.__version__,
        "redis": redis_version,
    }


def save(figures: list[Figure], meta: dict[str, Any], tag: str) -> Path:
    """Raw JSON of the run in bench/results/ (gitignored)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{tag}.json"
    payload = {"meta": meta, "argv": sys.argv, "figures": [json.loads(f.json_line()) for f in figures]}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path

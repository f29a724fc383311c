"""Peak resident memory of the suite's processes, from /proc/<pid>/status (VmHWM).

VmHWM is the kernel's high-water mark of resident memory for the process's whole life, so
reading it after the load runs gives each process's peak without sampling.  The Celery
worker is a parent plus forked pool children: each is reported, and their sum (an upper
bound, since forked pages are shared until written).
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import Collector
from bench.report import figure
from bench.stats import summarize


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of ``pid`` in MiB, or None if the process is gone or /proc is unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Celery's prefork pool processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return sorted(set(found))


GOAL_MB = 120.0


def figures(processes: dict[str, int], out: Collector) -> None:
    """Peak RSS of each process (``name -> pid``); the worker's pool children one by one."""
    for name, pid in sorted(processes.items()):
        if name == "redis" or name.startswith("echo"):
            continue
        peak = peak_rss_mb(pid)
        if peak is None:
            continue
        if name.startswith("worker"):
            kids = [(c, peak_rss_mb(c)) for c in children(pid)]
            sizes = [p for _, p in kids if p is not None]
            out.add(figure(f"memory.{name}.main", summarize([peak]), "MB", goal=("<=", GOAL_MB)))
            if sizes:
                out.add(figure(f"memory.{name}.child_max", summarize([max(sizes)]), "MB", goal=("<=", GOAL_MB),
                               note=f"{len(sizes)} pool processes; all together {peak + sum(sizes):.0f} MB "
                                    "(an upper bound: forked pages are shared until written)"))
            continue
        out.add(figure(f"memory.{name}", summarize([peak]), "MB", goal=("<=", GOAL_MB)))

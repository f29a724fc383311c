"""Where an Assess spends CPU, process by process: CPU per assessment and a py-spy profile.

    .venv/bin/python -m bench.profile [--mode pipeline] [--inflight 8] [--seconds 8] [--no-spy]
                                      [--pool threads|prefork] [--concurrency 8]

Drives Assess at a fixed number in flight against a fresh suite and reads each process's
CPU time (/proc/<pid>/stat, children included) before and after: CPU milliseconds per
assessment, which - unlike latency - hardly moves when other work shares the machine.  With
py-spy installed (a dev dependency) it also samples the encounter, the worker and the
services while they hold the GIL and prints each one's hottest functions (self time).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import assess, load, procs
from bench.memory import children
from devtools.suite import SERVICES, LocalSuite

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children (the prefork pool)."""
    total = 0.0
    for one in (pid, *children(pid)):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def hottest(raw: Path, top: int) -> list[tuple[float, str]]:
    """(share, function) by self time from py-spy's raw (collapsed stack) output."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        counts[stack.split(";")[-1]] += int(count)
        total += int(count)
    return [(n / total, frame) for frame, n in counts.most_common(top)] if total else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="pipeline", choices=assess.MODES)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--no-spy", action="store_true", help="CPU per assessment only")
    parser.add_argument("--keep", type=Path, help="copy each process's collapsed stacks (flame-graph input) here")
    parser.add_argument("--pool", default="threads", choices=("prefork", "threads", "solo"), help="the worker's pool")
    parser.add_argument("--concurrency", type=int, default=8, help="the worker's pool size")
    args = parser.parse_args(argv)
    spy = None if args.no_spy else shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if spy and not Path(spy).exists():
        print("# py-spy not installed (pip install py-spy): CPU per assessment only", file=sys.stderr)
        spy = None
    suite = LocalSuite(log_dir=Path(tempfile.mkdtemp(prefix="footcds-profile-")),
                       worker_pool=args.pool, worker_concurrency=args.concurrency)
    procs.become_client(suite)
    try:
        procs.start_all(suite, (args.mode,), aio=False)
        encounter = f"encounter-{args.mode}"
        names = [*(s for s in SERVICES if s != "encounter"), encounter, "worker", "redis"]
        probe = assess.probe(args.mode, suite.address(encounter), suite.token)
        load.warm(probe.call, 50)
        spies: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
        before = {n: cpu_seconds(suite.processes[n].pid) for n in names}
        client_before = os.times()
        if spy:
            for name in (encounter, "worker", *(s for s in SERVICES if s != "encounter")):
                out = suite.log_dir / f"spy-{name}.txt"
                argv_ = [spy, "record", "-p", str(suite.processes[name].pid), "-d", str(int(args.seconds)),
                         "-r", "200", "-f", "raw", "-o", str(out), "--nonblocking", "--gil"]
                if name == "worker":
                    argv_.append("--subprocesses")
                spies.append((name, out, subprocess.Popen(argv_, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
        result = load.throughput(probe.call, args.inflight, args.seconds)
        after = {n: cpu_seconds(suite.processes[n].pid) for n in names}
        client_after = os.times()
        done = result.completed
        print(f"{args.mode} ({args.pool}-{args.concurrency} worker): {done} assessments at {args.inflight} in flight, "
              f"{result.per_second:.0f}/s")
        print("CPU ms per assessment:")
        total = 0.0
        for name in names:
            ms = (after[name] - before[name]) * 1000 / done
            total += ms
            print(f"  {name:<14} {ms:6.2f}")
        client = (client_after.user + client_after.system - client_before.user - client_before.system) * 1000 / done
        print(f"  {'bench client':<14} {client:6.2f}\n  {'total':<14} {total + client:6.2f}")
        for name, out, process in spies:
            process.wait(args.seconds + 30)
            if not out.exists():
                print(f"\n{name}: py-spy failed: {process.stderr.read().decode()[-300:] if process.stderr else ''}")
                continue
            print(f"\n{name}: hottest functions while holding the GIL (self time)")
            for share, frame in hottest(out, args.top):
                print(f"  {share:6.1%}  {frame}")
            if args.keep:  # py-spy's raw format is the collapsed-stack text flame graphs are drawn from
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out, args.keep / f"{args.mode}-{name}.collapsed.txt")
    finally:
        suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

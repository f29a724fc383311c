"""`python -m bench` (make bench, < 5 min) / `python -m bench --quick` (make bench-quick, < 1 min).

Starts one LocalSuite (real Redis, the five services, a Celery worker, the HTTP gateway) plus, beside it, an
encounter process per coordination mode, a bare gRPC echo server and a bare Celery worker
on the same Redis; measures every FootCDS figure and its framework ceiling in interleaved
rounds; prints one JSON line per figure as it is made, then a table; saves the run in
bench/results/ (gitignored).  docs/performance.md explains each figure.

    --tune   also measure the worker pool / concurrency / prefetch and result-poll choices
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import assess, cds_hooks, ceilings, memory, procs, ranking, services, tablet
from bench.harness import Collector, Params, Probe, log, run_rounds
from bench.profile import cpu_seconds
from bench.report import Figure, machine, save, table
from devtools.suite import LocalSuite

FIGURE_FIELDS = {f.name for f in dataclasses.fields(Figure)}
# The full bench also screens a team-like roster with this share of athletes reporting no
# complaint (bench.screening.team_file): its repeats are what the roster-wide grouping saves.
TEAM_NO_COMPLAINT = 0.8


def cpu_seconds_of(suite: LocalSuite) -> float:
    """CPU time used so far by every process of the run, this client included."""
    own = os.times()
    return own.user + own.system + sum(cpu_seconds(p.pid) for p in suite.processes.values())


def screening(suite: LocalSuite, out: Collector, athletes: int, team: float | None = None) -> None:
    try:
        from bench import screening as screening_bench
    except ImportError as exc:
        log(f"screening bench not available ({exc})")
        print("# screening bench not available", flush=True)
        return
    log(f"screening {athletes} athletes")
    try:
        rows = screening_bench.run(suite, athletes=athletes, team=team)
    except Exception as exc:  # noqa: BLE001 - the other figures are still worth printing
        log(f"screening bench failed: {exc!r}")
        print(f"# screening bench failed: {exc!r}", flush=True)
        return
    for row in rows if team is None else rows[:2]:  # a team-like roster: its times only
        out.add(Figure(**{k: v for k, v in row.items() if k in FIGURE_FIELDS}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats (< 1 min)")
    parser.add_argument("--tune", action="store_true", help="also measure worker pool/prefetch/poll options")
    parser.add_argument("--modes", default=",".join(assess.MODES), help="Assess modes to measure")
    parser.add_argument("--athletes", type=int, default=0, help="screening roster size (default 10000; quick 1000)")
    parser.add_argument("--no-screening", action="store_true")
    args = parser.parse_args(argv)
    params = Params.make(args.quick)
    modes = tuple(m for m in args.modes.split(",") if m)
    aio = not args.quick
    began = time.perf_counter()
    meta = {**machine(), "quick": args.quick, "params": dataclasses.asdict(params)}
    log(f"machine: {meta['cpu']}, {meta['cpus']} cpus; python {meta['python']}, grpcio {meta['grpcio']}, "
        f"celery {meta['celery']}, redis {meta['redis']}")

    suite = LocalSuite(log_dir=Path(tempfile.mkdtemp(prefix="footcds-bench-")))
    procs.become_client(suite)
    out = Collector()
    try:
        procs.start_all(suite, modes, aio=aio)
        suite.start_gateway()
        log(f"suite up in {time.perf_counter() - began:.1f} s; logs in {suite.log_dir}")
        probes: list[Probe] = [ceilings.echo_probe(suite.address("echo-sync"), "ceiling.grpc_echo")]
        if aio:
            probes.append(ceilings.echo_probe(suite.address("echo-aio"), "ceiling.grpc_echo_aio"))
        probes += ceilings.celery_probes()
        probes += [assess.probe(m, suite.address(f"encounter-{m}"), suite.token) for m in modes]
        probes += services.probes(suite)
        probes.append(tablet.probe(suite, suite.issue_token("bench-tablet", ["tablet"])))
        probes.append(cds_hooks.probe(suite))  # the gateway's patient-view, beside the Assess it wraps
        rounds = run_rounds(probes, params, cpu=lambda: cpu_seconds_of(suite))
        ceilings.figures(rounds, out, aio=aio)
        services.figures(rounds, services.handler_us(suite, params.ranking_repeats), out)
        assess.figures(rounds, out, modes)
        tablet.figures(rounds, out)
        # The gateway calls the suite's own encounter, which runs the default mode (pipeline).
        cds_hooks.figures(rounds, out, "assess.pipeline" if "pipeline" in modes else f"assess.{modes[0]}")
        log("in-process ranking")
        ranking.run(out, params.ranking_repeats, per_case=1000 if args.quick else 2000,
                    explained=150 if args.quick else 300)
        if args.tune:
            from bench import tuning

            tuning.run(suite, out, params)
        memory.figures({name: p.pid for name, p in suite.processes.items()}, out)
        if not args.no_screening:
            screening(suite, out, args.athletes or (1000 if args.quick else 10000))
            if not args.quick:  # what the whole-roster grouping buys a team (tenth pass)
                screening(suite, out, args.athletes or 10000, team=TEAM_NO_COMPLAINT)
    finally:
        suite.stop()
    elapsed = time.perf_counter() - began
    meta["elapsed_s"] = round(elapsed, 1)
    print()
    print(table(out.figures))
    noisy = [f.name for f in out.figures if f.noisy]
    missed = [f.name for f in out.figures if f.met is False]
    meta["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(f"\n{len(out.figures)} figures in {elapsed:.0f} s on {meta['cpu']} ({meta['cpus']} cpus), {meta['date']}; "
          f"load average {meta['load_average_1m_at_start']} at start, {meta['load_average_1m_at_end']} at end")
    if noisy:
        print(f"NOISY (spread over the limit; rerun on a quieter machine): {', '.join(noisy)}")
    if missed:
        print(f"goals missed: {', '.join(missed)} (docs/performance.md says why)")
    print(f"raw: {save(out.figures, meta, 'quick' if args.quick else 'full')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

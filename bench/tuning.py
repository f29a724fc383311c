"""`python -m bench --tune`: the measurements behind the worker and result-poll settings.

* the FootCDS worker's pool, concurrency and prefetch: each variant replaces the suite's
  worker in turn and runs the Celery Assess modes (p50 at 1 in flight, rate at 32);
* the result-poll interval of ``AsyncResult.get``: bare Celery round trips at each interval.

Figures are named ``tune.<what>[<variant>]...``; docs/performance.md records the outcome.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench import assess, load, procs
from bench.harness import Collector, Params, log
from bench.report import figure, save, table
from bench.stats import latency_percentiles, summarize
from devtools.suite import LocalSuite

# (pool, concurrency, prefetch multiplier)
WORKERS = (
    ("prefork", 2, 4),
    ("prefork", 4, 4),
    ("prefork", 2, 1),
    ("threads", 4, 4),
    ("threads", 8, 4),
    ("threads", 16, 4),
    ("solo", 1, 4),
)
POLL_INTERVALS = (0.001, 0.005, 0.02, 0.1)
MODES = ("pipeline",)  # the chain was dropped (docs/performance.md)


def _wait_assess(suite: LocalSuite, mode: str, timeout: float = 60) -> None:
    probe = assess.probe(mode, suite.address(f"encounter-{mode}"), suite.token)
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe.call()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def workers(suite: LocalSuite, out: Collector, params: Params) -> None:
    modes = [m for m in MODES if f"encounter-{m}" in suite.processes]
    current = "worker"
    for pool, concurrency, prefetch in WORKERS:
        variant = f"{pool}-{concurrency}-prefetch{prefetch}"
        suite.stop_process(current)
        current = f"worker-{variant}"
        argv = procs.worker_argv("services.worker.app", "footcds", current, pool, concurrency)
        procs.spawn(suite, current, [*argv, "--prefetch-multiplier", str(prefetch)])
        for mode in modes:
            _wait_assess(suite, mode)
        for mode in modes:
            probe = assess.probe(mode, suite.address(f"encounter-{mode}"), suite.token)
            load.warm(probe.call, 10)
            p50s, rates = [], []
            for _ in range(max(2, params.throughput_repeats)):
                p50s.append(latency_percentiles(load.latencies(probe.call, int(params.calls * probe.weight)))[0])
                rates.append(load.throughput(probe.call, 32, params.throughput_seconds).per_second)
            out.add(figure(f"tune.worker[{variant}].{mode}.p50", summarize(p50s), "ms"))
            out.add(figure(f"tune.worker[{variant}].{mode}.rps@32", summarize(rates), "/s"))
        log(f"tuned worker {variant}")
    suite.stop_process(current)
    suite.start_worker()
    suite.wait_worker()
    for mode in modes:
        _wait_assess(suite, mode)


def poll_intervals(out: Collector, params: Params) -> None:
    from bench.celery_app import noop

    state = {"request": b"x" * 256}
    for interval in POLL_INTERVALS:
        def call(interval: float = interval) -> object:
            return noop.delay(state).get(timeout=10, interval=interval)

        load.warm(call, 10)
        p50s = [latency_percentiles(load.latencies(call, params.calls // 2))[0] for _ in range(params.repeats)]
        out.add(figure(f"tune.poll[{interval}].celery_rt.p50", summarize(p50s), "ms"))


def run(suite: LocalSuite, out: Collector, params: Params) -> None:
    poll_intervals(out, params)
    workers(suite, out, params)


def main() -> int:
    """`python -m bench.tuning [--quick]`: only the tuning runs, on a suite of their own."""
    params = Params.make("--quick" in sys.argv)
    suite = LocalSuite(log_dir=Path(tempfile.mkdtemp(prefix="footcds-tune-")))
    procs.become_client(suite)
    out = Collector()
    try:
        procs.start_all(suite, MODES, aio=False)
        run(suite, out, params)
    finally:
        suite.stop()
    print()
    print(table(out.figures))
    print(f"raw: {save(out.figures, {'tune': True}, 'tune')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.load_clients`: many concurrent clients against Assess (a benchmark, not a test).

200 clients (default), each with its own connection and its own credentials (a token issued
for it, so auth, the per-client limits and the audit trail see 200 clients), call Assess in
a closed loop for 60 s on loopback, cycling through the example cases. Reports errors by
status code (goal: 0), completed calls per second, and p50/p99/max latency; saves the run as
JSON in bench/results/. Bounded: callers stop at the end of the window, and each call has
its own deadline, so the run ends by itself within window + deadline.

    python -m bench.load_clients [--clients 200] [--seconds 60] [--warmup 3] [--deadline 10]
                                 [--worker-concurrency 8] [--address HOST:PORT --token-file F]

Without --address it starts (and stops) its own LocalSuite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from footcds.v1 import encounter_pb2, encounter_pb2_grpc

from devtools.suite import LocalSuite
from services.cli.casefile import read_case
from services.platform.auth import ASSESS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Run:
    clients: int
    seconds: float
    completed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mode: str = ""
    worker_concurrency: int = 0
    machine: str = field(default_factory=lambda: f"{platform.machine()} {platform.system()}, "
                                                 f"{os.cpu_count()} cpus, Python {platform.python_version()}")


def percentile(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return 0.0
    index = min(len(sorted_ns) - 1, max(0, round(q * (len(sorted_ns) - 1))))
    return sorted_ns[index] / 1e6


async def one_client(
    address: str, token: str, cases: list[encounter_pb2.AssessRequest], offset: int, deadline_s: float,
    warm_until: float, stop_at: float, samples: list[int], errors: Counter[str],
) -> None:
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = encounter_pb2_grpc.EncounterServiceStub(channel)
        i = offset
        loop = asyncio.get_running_loop()
        while loop.time() < stop_at:
            started = time.perf_counter_ns()
            counted = loop.time() >= warm_until
            try:
                await stub.Assess(cases[i % len(cases)], timeout=deadline_s, metadata=metadata)
                if counted:
                    samples.append(time.perf_counter_ns() - started)
            except grpc.aio.AioRpcError as error:
                if counted:
                    errors[error.code().name] += 1
            i += 1


async def drive(address: str, tokens: list[str], seconds: float, warmup: float, deadline_s: float) -> Run:
    cases = [read_case(path) for path in sorted((ROOT / "examples").glob("*.json"))]
    samples: list[int] = []
    errors: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    warm_until = loop.time() + warmup
    stop_at = warm_until + seconds
    began = time.perf_counter()
    await asyncio.gather(*(
        one_client(address, token, cases, n, deadline_s, warm_until, stop_at, samples, errors)
        for n, token in enumerate(tokens)
    ))
    measured = time.perf_counter() - began - warmup
    samples.sort()
    return Run(
        clients=len(tokens), seconds=round(measured, 2), completed=len(samples), errors=dict(errors),
        per_second=round(len(samples) / measured, 1), p50_ms=round(percentile(samples, 0.5), 2),
        p99_ms=round(percentile(samples, 0.99), 2), max_ms=round(samples[-1] / 1e6 if samples else 0.0, 2),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_clients", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--deadline", type=float, default=10.0, help="each Assess call's deadline (s)")
    parser.add_argument("--worker-concurrency", type=int, default=8)
    parser.add_argument("--mode", default="", help="FOOTCDS_ASSESS_MODE for a suite this starts")
    parser.add_argument("--address", default="", help="an already running encounter service")
    parser.add_argument("--token-file", type=Path, help="with --address: the token every client uses")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 2000 or not 0 < args.seconds <= 3600:
        parser.error("--clients 1..2000 and --seconds up to 3600")

    suite: LocalSuite | None = None
    try:
        if args.address:
            token = args.token_file.read_text().strip() if args.token_file else ""
            address, tokens = args.address, [token] * args.clients
        else:
            env = {"FOOTCDS_ASSESS_MODE": args.mode} if args.mode else {}
            suite = LocalSuite(worker_concurrency=args.worker_concurrency, extra_env=env)
            print(f"starting the suite (logs in {suite.log_dir}) ...", file=sys.stderr, flush=True)
            suite.start()
            address = suite.address("encounter")
            tokens = [suite.issue_token(f"load-{n:03d}", [ASSESS]) for n in range(args.clients)]
        print(f"{args.clients} clients x {args.seconds:.0f} s against {address} ...", file=sys.stderr, flush=True)
        run = asyncio.run(drive(address, tokens, args.seconds, args.warmup, args.deadline))
    finally:
        if suite is not None:
            suite.stop()
    run.mode = args.mode or "default"
    run.worker_concurrency = args.worker_concurrency if suite is not None else 0
    errors = sum(run.errors.values())
    print(json.dumps(asdict(run)))
    print(f"Assess, {run.clients} concurrent clients, {run.seconds} s: {run.completed} ok, {errors} errors "
          f"{run.errors or ''}; {run.per_second}/s; p50 {run.p50_ms} ms, p99 {run.p99_ms} ms, max {run.max_ms} ms")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"load_clients-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(asdict(run), indent=2))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""CPU per athlete of the four batch handlers, in-process, on a synthetic roster.

    .venv/bin/python -m bench.batch_cpu [--athletes 2000] [--chunk 250] [--profile]
        [--digest FILE | --check FILE]

Runs ``screening.screen_chunk`` with the services' own batch handlers (``--local``'s path),
timing each handler with ``time.process_time`` (CPU, so it hardly moves with outside load),
and prints milliseconds of CPU per athlete for intake, ranking, work-up and treatment.
``--profile`` adds a cProfile of the whole run (hottest functions by own time).
``--digest`` writes a SHA-256 per stage of every batch response (deterministic
serialization) and of the athletes' results; ``--check`` compares a run against such a file:
the guard that a speed-up did not change any answer.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from services.cli.roster import parse_roster, synthesize, write_roster
from services.knowledge.loader import knowledge_base
from services.pipeline.screening import LocalBatchCalls, chunked, prepare, screen_chunk

STAGES = ("intake", "ranking", "workup", "treatment")


class TimedCalls(LocalBatchCalls):
    """The in-process handlers, each timed (CPU) and its responses hashed."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.hashes = {stage: hashlib.sha256() for stage in STAGES}

    def _timed(self, stage: str, fn: Any, *args: Any) -> Any:
        started = time.process_time()
        out = fn(*args)
        self.cpu[stage] += time.process_time() - started
        return out

    def _hash(self, stage: str, response: Any) -> None:
        self.hashes[stage].update(response.SerializeToString(deterministic=True))

    def normalize(self, request: Any) -> Any:
        out = self._timed("intake", super().normalize, request)
        self._hash("intake", out)
        return out

    def rank(self, request: Any) -> Any:
        out = self._timed("ranking", super().rank, request)
        self._hash("ranking", out)
        return out

    def tests_and_plans(self, tests: bytes, plans: bytes) -> Any:
        from footcds.v1 import treatment_pb2, workup_pb2

        from services.treatment.handlers import plan_treatment_batch
        from services.workup.handlers import recommend_tests_batch

        # Parsed outside the handlers' timers (a server's gRPC parses before its handler runs).
        tests_request = workup_pb2.RecommendTestsBatchRequest.FromString(tests)
        plans_request = treatment_pb2.PlanTreatmentBatchRequest.FromString(plans)
        tested = self._timed("workup", recommend_tests_batch, tests_request)
        planned = self._timed("treatment", plan_treatment_batch, plans_request)
        self._hash("workup", tested)
        self._hash("treatment", planned)
        return tested, planned


def roster_entries(athletes: int, seed: int) -> list[Any]:
    text = io.StringIO()
    write_roster(synthesize(knowledge_base(), athletes, seed), text)
    return parse_roster(text.getvalue()).entries


def run(athletes: int, chunk: int, seed: int, profile: bool) -> tuple[dict[str, Any], str]:
    entries = roster_entries(athletes, seed)
    warm = TimedCalls()
    for part in chunked(prepare(entries[:50]).accepted, chunk):  # warm caches and the KB
        screen_chunk(part, warm)
    calls = TimedCalls()
    results = hashlib.sha256()
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for part in chunked(prepare(entries).accepted, chunk):
        for _, result in screen_chunk(part, calls):
            results.update(result.SerializeToString(deterministic=True))
    if profiler is not None:
        profiler.disable()
    total = time.process_time() - started
    n = len(entries)
    figures = {
        "athletes": n,
        "chunk": chunk,
        "cpu_ms_per_athlete": {s: round(calls.cpu[s] * 1000 / n, 3) for s in STAGES},
        "handlers_ms_per_athlete": round(sum(calls.cpu.values()) * 1000 / n, 3),
        "total_ms_per_athlete": round(total * 1000 / n, 3),
        "digest": {**{s: calls.hashes[s].hexdigest() for s in STAGES}, "results": results.hexdigest()},
    }
    report = ""
    if profiler is not None:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(30)
        report = stream.getvalue()
    return figures, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--athletes", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--digest", type=Path, help="write the per-stage answer digests here")
    parser.add_argument("--check", type=Path, help="compare the answers with a --digest file")
    args = parser.parse_args(argv)
    figures, report = run(args.athletes, args.chunk, args.seed, args.profile)
    print(json.dumps(figures))
    if report:
        print(report, file=sys.stderr)
    if args.digest:
        args.digest.write_text(json.dumps(figures["digest"], indent=1))
    if args.check:
        expected = json.loads(args.check.read_text())
        changed = [k for k, v in expected.items() if figures["digest"].get(k) != v]
        print(f"# answers: {'CHANGED in ' + ', '.join(changed) if changed else 'identical'}", file=sys.stderr)
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

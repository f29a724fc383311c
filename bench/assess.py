"""Assess end to end (client -> encounter -> [Celery] -> four services -> reply), per mode.

Each coordination shape runs in its own encounter process (``FOOTCDS_ASSESS_MODE``) beside
the same services, worker and Redis, so the shapes are compared under the same load:

* (``chain``, four Celery tasks one per stage, was dropped: 2x slower);
* ``pipeline`` - one Celery task calling the four services;
* ``direct``   - the encounter calls the services over gRPC (Celery kept for screening).

Goals (issue 15, ratios to the ceilings of the same run): the default shape's (``pipeline``)
p50 <= 2.5x a bare Celery round trip; CPU per assessment (all processes) <= 10x one bare gRPC
echo call; >= 300 assessments/s at 32 in flight.  Issue 7's absolute p50 <= 5 ms stays on
``chain`` and ``direct``; p99 <= 20 ms on all.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import grpc
from footcds.v1 import encounter_pb2, encounter_pb2_grpc

from bench.harness import Collector, Probe, Rounds
from bench.report import Figure, figure
from bench.stats import summarize
from services.cli.casefile import case_from_json

MODES = ("pipeline", "direct")  # "chain" was dropped (docs/performance.md)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOAL_P50_MS, GOAL_P99_MS, GOAL_RPS = 5.0, 20.0, 300.0
GOAL_P50_RATIO, GOAL_CPU_RATIO = 2.5, 10.0  # x bare Celery round trip; x bare echo call's CPU
DEFAULT_MODE = "pipeline"
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
# The bare framework each shape is compared with first (the others go into extra.vs).
SHAPE_CEILING = {"chain": "ceiling.celery_chain4", "pipeline": "ceiling.celery_rt", "direct": "ceiling.grpc_echo"}


def example_requests() -> list[encounter_pb2.AssessRequest]:
    """The example cases, in turn: a self-care runner, Morton's neuroma, an emergency."""
    return [case_from_json(json.loads(p.read_text())) for p in sorted(EXAMPLES.glob("*.json"))]


def metadata(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")] if token else []


def probe(mode: str, address: str, token: str, inflight: tuple[int, ...] = (32,)) -> Probe:
    stub = encounter_pb2_grpc.EncounterServiceStub(grpc.insecure_channel(address))
    requests = itertools.cycle(example_requests())
    md = metadata(token)
    weight = {"chain": 0.25, "pipeline": 0.5}.get(mode, 1.0)

    def call() -> object:
        return stub.Assess(next(requests), timeout=10, metadata=md)

    return Probe(f"assess.{mode}", call, weight=weight, inflight=inflight)


def shape_floor_ms(mode: str, out: Collector) -> float | None:
    """What this shape would take if FootCDS added nothing to the frameworks and the domain
    code: the bare Celery part, one echo hop per gRPC call on the critical path (client ->
    encounter, intake, differential, then workup and treatment side by side - in the chain
    they run one after the other), and the same handlers timed in-process."""
    try:
        echo = out["ceiling.grpc_echo.p50"].value
        handler = {
            s: out[f"service.{s}.handler"].value / 1e3 for s in ("intake", "differential", "workup", "treatment")
        }
        queue = {"chain": out["ceiling.celery_chain4.p50"].value, "pipeline": out["ceiling.celery_rt.p50"].value}
    except KeyError:
        return None
    last = handler["workup"] + handler["treatment"] if mode == "chain" else max(handler["workup"], handler["treatment"])
    hops = 5 if mode == "chain" else 4
    return queue.get(mode, 0.0) + hops * echo + handler["intake"] + handler["differential"] + last


def cpu_shape_floor_ms(mode: str, out: Collector) -> float | None:
    """The CPU this shape would use per assessment if FootCDS added nothing to the frameworks
    and the domain code: every gRPC call at a bare echo call's CPU (client -> encounter and the
    four stage calls: five), the bare Celery round trip's CPU for the shapes that queue, and the
    four handlers timed in-process. Its ratio to the echo call says how low the CPU goal can go
    without changing the shape itself."""
    try:
        echo_cpu = out["ceiling.grpc_echo.cpu@32"].value
        handlers = sum(
            out[f"service.{s}.handler"].value / 1e3 for s in ("intake", "differential", "workup", "treatment")
        )
        queue = out["ceiling.celery_rt.cpu@32"].value if mode != "direct" else 0.0
    except KeyError:
        return None
    return queue + 5 * echo_cpu + handlers


def figures(rounds: Rounds, out: Collector, modes: tuple[str, ...] = MODES) -> None:
    for mode in modes:
        name = f"assess.{mode}"
        first = SHAPE_CEILING[mode]
        others = [c for c in ("ceiling.grpc_echo", "ceiling.celery_rt") if c != first]
        p50 = figure(
            f"{name}.p50", rounds.p50_of(name), "ms", ceiling=out[f"{first}.p50"],
            also=tuple(out.get(f"{c}.p50") for c in others),
            **(dict(goal=("<=", GOAL_P50_RATIO), goal_on_ratio=True) if mode == DEFAULT_MODE
               else dict(goal=("<=", GOAL_P50_MS))),
        )
        floor = shape_floor_ms(mode, out)
        if floor:
            p50.extra["shape_floor_ms"] = round(floor, 3)
            p50.extra.setdefault("vs", {})["shape_floor"] = round(p50.value / floor, 3)
        out.add(p50)
        out.add(figure(
            f"{name}.p99", rounds.p99_of(name), "ms", ceiling=out[f"{first}.p99"],
            also=tuple(out.get(f"{c}.p99") for c in others), goal=("<=", GOAL_P99_MS),
        ))
        if (name, 32) in rounds.cpu_ms and ("ceiling.grpc_echo", 32) in rounds.cpu_ms:
            echo_cpu = out.get("ceiling.grpc_echo.cpu@32") or out.add(figure(
                "ceiling.grpc_echo.cpu@32", summarize(rounds.cpu_ms[("ceiling.grpc_echo", 32)]), "ms",
                note="CPU of all processes per echo call at 32 in flight",
            ))
            cpu = out.add(figure(
                f"{name}.cpu@32", summarize(rounds.cpu_ms[(name, 32)]), "ms", ceiling=echo_cpu,
                goal=("<=", GOAL_CPU_RATIO), goal_on_ratio=True,
                note="CPU of all processes per assessment at 32 in flight (client, encounter, worker, "
                     "services, Redis); the cores divided by it bound the rate",
            ))
            cpu.extra["rate_bound_per_s"] = round(CORES * 1000 / cpu.value, 1)
            cpu_floor = cpu_shape_floor_ms(mode, out)
            if cpu_floor:
                cpu.extra["shape_floor_ms"] = round(cpu_floor, 3)
                cpu.extra["shape_floor_vs_echo"] = round(cpu_floor / echo_cpu.value, 2)
                cpu.extra["shape_floor_rate_bound_per_s"] = round(CORES * 1000 / cpu_floor, 1)
                cpu.extra.setdefault("vs", {})["shape_floor"] = round(cpu.value / cpu_floor, 3)
        rps_ceiling = "ceiling.grpc_echo.rps@32" if mode == "direct" else "ceiling.celery_rt.rps@32"
        other_rps = "ceiling.celery_rt.rps@32" if mode == "direct" else "ceiling.grpc_echo.rps@32"
        out.add(figure(
            f"{name}.rps@32", rounds.rps_of(name, 32), "/s", ceiling=out[rps_ceiling], rate=True,
            also=(out.get(other_rps),), goal=(">=", GOAL_RPS),
        ))


def best(out: Collector, modes: tuple[str, ...] = MODES) -> Figure:
    """The mode with the lowest p50 (for the summary line)."""
    return min((out[f"assess.{m}.p50"] for m in modes), key=lambda f: f.value)

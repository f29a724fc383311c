"""Each domain service's unary RPC against the bare echo hop (goal: <= 1.5x the echo p50).

Beside each RPC the same handler is timed in-process (``handler``): the difference is what
the server stack (interceptors: metrics, auth, limits, audit; protobuf on the wire) costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from footcds.v1 import (
    differential_pb2_grpc,
    intake_pb2_grpc,
    treatment_pb2_grpc,
    workup_pb2_grpc,
)

from bench.assess import example_requests, metadata
from bench.harness import Collector, Probe, Rounds
from bench.report import figure
from bench.stats import summarize
from devtools.suite import LocalSuite
from services.pipeline import stages

GOAL_RATIO = 1.5
SERVICES = ("intake", "differential", "workup", "treatment")


def _requests(suite: LocalSuite, md: list[tuple[str, str]]) -> dict[str, Any]:
    """One realistic request per service, built by calling the services themselves."""
    request = example_requests()[1]  # Morton's neuroma: a typical outpatient case
    intake_stub = intake_pb2_grpc.IntakeServiceStub(grpc.insecure_channel(suite.address("intake")))
    differential_stub = differential_pb2_grpc.DifferentialServiceStub(
        grpc.insecure_channel(suite.address("differential"))
    )
    intake = intake_stub.NormalizeIntake(stages.intake_request(request), timeout=10, metadata=md)
    ranked = differential_stub.RankDifferential(stages.differential_request(intake), timeout=10, metadata=md)
    return {
        "intake": stages.intake_request(request),
        "differential": stages.differential_request(intake),
        "workup": stages.workup_request(intake, ranked.differential),
        "treatment": stages.treatment_request(intake, ranked.differential),
    }


def probes(suite: LocalSuite) -> list[Probe]:
    md = metadata(suite.token)
    requests = _requests(suite, md)
    methods: dict[str, Callable[..., Any]] = {
        "intake": intake_pb2_grpc.IntakeServiceStub(grpc.insecure_channel(suite.address("intake"))).NormalizeIntake,
        "differential": differential_pb2_grpc.DifferentialServiceStub(
            grpc.insecure_channel(suite.address("differential"))
        ).RankDifferential,
        "workup": workup_pb2_grpc.WorkupServiceStub(grpc.insecure_channel(suite.address("workup"))).RecommendTests,
        "treatment": treatment_pb2_grpc.TreatmentServiceStub(
            grpc.insecure_channel(suite.address("treatment"))
        ).PlanTreatment,
    }

    def bind(method: Callable[..., Any], request: Any) -> Callable[[], Any]:
        return lambda: method(request, timeout=5, metadata=md)

    return [Probe(f"service.{name}", bind(methods[name], requests[name])) for name in SERVICES]


def handler_us(suite: LocalSuite, repeats: int, calls: int = 100) -> dict[str, list[float]]:
    """Microseconds per call of each module-level handler, in this process (no server)."""
    from services.differential.handlers import rank_differential
    from services.intake.handlers import normalize_intake
    from services.treatment.handlers import plan_treatment
    from services.workup.handlers import recommend_tests

    requests = _requests(suite, metadata(suite.token))
    handlers: dict[str, Callable[[Any], Any]] = {
        "intake": normalize_intake, "differential": rank_differential,
        "workup": recommend_tests, "treatment": plan_treatment,
    }
    out: dict[str, list[float]] = {name: [] for name in SERVICES}
    for name in SERVICES:
        handlers[name](requests[name])
    for _ in range(repeats):
        for name in SERVICES:
            fn, request = handlers[name], requests[name]
            start = time.perf_counter_ns()
            for _ in range(calls):
                fn(request)
            out[name].append((time.perf_counter_ns() - start) / calls / 1e3)
    return out


def figures(rounds: Rounds, handlers: dict[str, list[float]], out: Collector) -> None:
    echo_p50, echo_p99 = out["ceiling.grpc_echo.p50"], out["ceiling.grpc_echo.p99"]
    for name in SERVICES:
        key = f"service.{name}"
        out.add(figure(f"{key}.p50", rounds.p50_of(key), "ms", ceiling=echo_p50,
                       goal=("<=", GOAL_RATIO), goal_on_ratio=True))
        out.add(figure(f"{key}.p99", rounds.p99_of(key), "ms", ceiling=echo_p99))
        out.add(figure(f"{key}.handler", summarize(handlers[name]), "us",
                       note="the same handler in-process, no server"))

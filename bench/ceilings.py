"""The frameworks' own ceilings, measured in the same run as FootCDS.

* bare gRPC: a trivial unary echo servicer in its own process (``bench.echo``), with the
  thread-pool server FootCDS uses; with ``--full`` also the grpc.aio server (the server
  choice, re-checked every full run);
* bare Celery: ``delay().get(interval=0.005)`` of a no-op task on a real worker (same pool
  and concurrency as FootCDS's) against the same Redis, and a chain of four no-ops.
"""

from __future__ import annotations

import grpc
from celery import chain

from bench import echo
from bench.harness import Collector, Probe, Rounds
from bench.report import figure
from bench.stats import summarize

# Celery's own round trip, result backend included, as the issue defines the ceiling.  The
# encounter no longer waits on Celery's result backend (its answer comes back on a reply list,
# services/worker/replies.py), so Assess uses less of Celery than this ceiling does: say so
# beside any ratio to it (docs/performance.md, fourth pass).
RESULT_POLL_SECONDS = 0.005
STATE = {"request": b"x" * 256, "deadline": 0.0}  # about the size of an Assess task's state


def echo_probe(address: str, name: str) -> Probe:
    channel = grpc.insecure_channel(address)
    call = echo.stub(channel)
    return Probe(name, lambda: call(echo.PAYLOAD, timeout=5), inflight=(1, 16, 32))


def celery_probes() -> list[Probe]:
    from bench.celery_app import noop

    def round_trip() -> object:
        return noop.delay(STATE).get(timeout=10, interval=RESULT_POLL_SECONDS)

    def chain4() -> object:
        workflow = chain(noop.s(STATE), noop.s(), noop.s(), noop.s())
        return workflow.apply_async().get(timeout=10, interval=RESULT_POLL_SECONDS)

    return [
        Probe("ceiling.celery_rt", round_trip, weight=0.5, inflight=(32,)),
        Probe("ceiling.celery_chain4", chain4, weight=0.25),
    ]


def echo_figures(rounds: Rounds, out: Collector, *, aio: bool) -> None:
    """The echo ceiling; the aio echo (if measured) is reported against the sync one."""
    name = "ceiling.grpc_echo"
    out.add(figure(f"{name}.p50", rounds.p50_of(name), "ms"))
    out.add(figure(f"{name}.p99", rounds.p99_of(name), "ms"))
    for inflight in (1, 16, 32):
        out.add(figure(f"{name}.rps@{inflight}", rounds.rps_of(name, inflight), "/s"))
    if aio:
        name = "ceiling.grpc_echo_aio"
        out.add(figure(f"{name}.p50", rounds.p50_of(name), "ms", ceiling=out["ceiling.grpc_echo.p50"],
                       note="grpc.aio server vs the thread-pool server FootCDS uses"))
        for inflight in (1, 16, 32):
            out.add(figure(
                f"{name}.rps@{inflight}", rounds.rps_of(name, inflight), "/s",
                ceiling=out[f"ceiling.grpc_echo.rps@{inflight}"], rate=True,
            ))


def figures(rounds: Rounds, out: Collector, *, aio: bool) -> None:
    echo_figures(rounds, out, aio=aio)
    for name in ("ceiling.celery_rt", "ceiling.celery_chain4"):
        out.add(figure(f"{name}.p50", rounds.p50_of(name), "ms"))
        out.add(figure(f"{name}.p99", rounds.p99_of(name), "ms"))
    out.add(figure("ceiling.celery_rt.rps@32", rounds.rps_of("ceiling.celery_rt", 32), "/s"))
    if ("ceiling.celery_rt", 32) in rounds.cpu_ms:
        out.add(figure(
            "ceiling.celery_rt.cpu@32", summarize(rounds.cpu_ms[("ceiling.celery_rt", 32)]), "ms",
            note="CPU of all processes (client, worker, Redis) per bare Celery round trip at 32 in flight",
        ))

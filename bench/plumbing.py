"""CPU of the plumbing cuts of issue 15, each beside what it replaced, in one process.

    .venv/bin/python -m bench.plumbing [--calls 3000]

On a shared machine end-to-end figures move by more than a 5% cut, so each cut is timed
alone with ``time.process_time`` (CPU of this process only), old and new interleaved:

* **publish**: ``apply_async`` of the pipeline task with an Assess-sized state to a real
  Redis (a ``redis-server`` started here), through Celery/kombu's own transport and AMQP vs
  FootCDS's (one Redis client per channel, no ``saferepr`` of the arguments);
* **metrics**: the end of every RPC - ``Counter.labels(...)`` per call vs one child per code.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from celery import Celery

from services.cli.casefile import case_from_json
from services.worker.app import _NoArgsReprAMQP, broker_transport

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _apps(url: str) -> dict[str, Celery]:
    plain = Celery("plain", broker=url, backend=url)
    ours = Celery("ours", broker=url, backend=url, amqp=_NoArgsReprAMQP)
    plain.conf.update(task_serializer="msgpack")
    ours.conf.update(task_serializer="msgpack", broker_transport=broker_transport(url))
    return {"kombu default": plain, "FootCDS transport": ours}


def _cpu_us(fn: Any, calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) * 1e6 / calls


def publish(calls: int, rounds: int = 3) -> dict[str, float]:
    request = case_from_json(json.loads(sorted(EXAMPLES.glob("*.json"))[0].read_text()))
    state = {"request": request.SerializeToString(), "deadline": time.time() + 10}
    port = _free_port()
    binary = shutil.which("redis-server") or "redis-server"
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        url = f"redis://127.0.0.1:{port}/0"
        apps = _apps(url)
        best: dict[str, float] = {}
        for _ in range(rounds):  # interleaved, best of each (least disturbed)
            for name, app in apps.items():
                queue = f"bench-{name.split()[0]}"

                def one(app: Celery = app, queue: str = queue) -> None:
                    app.send_task("footcds.pipeline", args=(state,), queue=queue, expires=10)

                one()
                best[name] = min(best.get(name, float("inf")), _cpu_us(one, calls))
                with app.connection_for_write() as conn:
                    conn.default_channel.client.delete(queue)
        return best
    finally:
        server.terminate()
        server.wait(5)


def metrics(calls: int) -> dict[str, float]:
    from prometheus_client import CollectorRegistry, Counter

    counter = Counter("bench_handled", "x", ["s", "m", "c"], registry=CollectorRegistry())
    cached: dict[str, Any] = {}

    def per_call() -> None:
        counter.labels("svc", "Method", "OK").inc()

    def once() -> None:
        child = cached.get("OK")
        if child is None:
            child = cached["OK"] = counter.labels("svc", "Method", "OK")
        child.inc()

    return {"labels() per call": _cpu_us(per_call, calls * 10), "child per code": _cpu_us(once, calls * 10)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args(argv)
    for figure, values in (("publish", publish(args.calls)), ("metrics", metrics(args.calls))):
        for name, us in values.items():
            print(json.dumps({"name": f"plumbing.{figure}", "variant": name, "value": round(us, 1), "unit": "us CPU"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

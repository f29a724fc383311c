"""Extra processes beside a LocalSuite: encounters in other modes, echo servers, workers.

They are registered in the suite's process table, so ``suite.stop()`` stops them with the
rest (SIGTERM, then SIGKILL) and their logs land in the suite's log directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import grpc

from bench import echo
from devtools.suite import ROOT, SERVICES, LocalSuite, free_port


def spawn(suite: LocalSuite, key: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = open(suite.log_dir / f"{key}.log", "ab")  # noqa: SIM115 - closed by the child's exit
    process = subprocess.Popen(
        argv, cwd=ROOT, env={**suite.env(), **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    suite.processes[key] = process
    return process


def start_encounter(suite: LocalSuite, mode: str, env: dict[str, str] | None = None) -> str:
    """One more encounter process running ``FOOTCDS_ASSESS_MODE=mode``; returns its address."""
    key = f"encounter-{mode}"
    suite.ports[key] = port = free_port()
    overlay = {"FOOTCDS_ASSESS_MODE": mode, "FOOTCDS_ENCOUNTER_PORT": str(port), **(env or {})}
    spawn(suite, key, [sys.executable, "-m", "services.encounter"], overlay)
    return key


def start_echo(suite: LocalSuite, kind: str = "sync") -> str:
    key = f"echo-{kind}"
    suite.ports[key] = port = free_port()
    spawn(suite, key, [sys.executable, "-m", "bench.echo", kind, str(port)])
    return key


def wait_echo(suite: LocalSuite, key: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(suite.address(key)) as channel:
        call = echo.stub(channel)
        while time.monotonic() < deadline:
            if suite.processes[key].poll() is not None:
                raise RuntimeError(f"{key} exited; see {suite.log_dir}/{key}.log")
            try:
                call(echo.PAYLOAD, timeout=0.5)
                return
            except grpc.RpcError:
                time.sleep(0.05)
    raise RuntimeError(f"{key} not ready within {timeout} s")


def worker_argv(app: str, queue: str, name: str, pool: str, concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "--pool", pool,
        "--concurrency", str(concurrency), "--loglevel", "WARNING", "--without-gossip",
        "--without-mingle", "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
    ]


def start_bare_worker(suite: LocalSuite, pool: str, concurrency: int) -> str:
    """A worker for the no-op ceiling app, with the same pool as FootCDS's worker."""
    from bench.celery_app import QUEUE

    key = "worker-bare"
    spawn(suite, key, worker_argv("bench.celery_app", QUEUE, key, pool, concurrency))
    return key


def become_client(suite: LocalSuite) -> None:
    """This process dials ``suite``: its Redis URL and token, before any settings are read."""
    os.environ.update(suite.env())
    from services.platform.config import settings

    settings.cache_clear()


def start_all(suite: LocalSuite, modes: tuple[str, ...], *, aio: bool) -> dict[str, str]:
    """The suite and the extra processes, started side by side; returns probe -> process key."""
    suite.start_redis()
    for name in SERVICES:
        suite.start_service(name)
    keys = {f"assess.{mode}": start_encounter(suite, mode) for mode in modes}
    keys["ceiling.grpc_echo"] = start_echo(suite, "sync")
    if aio:
        keys["ceiling.grpc_echo_aio"] = start_echo(suite, "aio")
    start_bare_worker(suite, suite.worker_pool, suite.worker_concurrency)
    suite.start_worker()
    for name in [*SERVICES, *(keys[f"assess.{m}"] for m in modes)]:
        suite.wait_service(name, timeout=60)
    for key in (k for k in keys.values() if k.startswith("echo")):
        wait_echo(suite, key)
    suite.wait_worker()
    from bench.celery_app import noop

    noop.delay(None).get(timeout=60, interval=0.05)  # the bare worker is consuming
    return keys

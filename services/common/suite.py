"""Start the whole suite on one machine: a Redis, the five services and a Celery worker.

One launcher serves three users: ``make run`` (``python -m services.common.suite``), the
end-to-end tests (a fixture) and the benchmarks.  Every process gets its port from the
environment, logs to its own file, and is stopped (SIGTERM, then SIGKILL) by ``stop()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.common.healthcheck import check

SERVICES = ("intake", "differential", "workup", "treatment", "encounter")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: run `apt-get install -y redis-server` "
            "(as root) or install Redis 6+ and put redis-server on PATH"
        )
    return found


@dataclass
class LocalSuite:
    """The suite's processes on loopback; ports are free ones unless given."""

    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="footcds-")))
    ports: dict[str, int] = field(default_factory=dict)
    redis_port: int = 0
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
        self.redis_port = self.redis_port or free_port()

    # --- addresses and environment -----------------------------------------------------

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FOOTCDS_BIND_HOST="127.0.0.1",
            FOOTCDS_REDIS_URL=self.redis_url,
            PYTHONUNBUFFERED="1",
        )
        for name in SERVICES:
            env[f"FOOTCDS_{name.upper()}_PORT"] = str(self.ports[name])
            env[f"FOOTCDS_{name.upper()}_ADDR"] = self.address(name)
        env.update(self.extra_env)
        return env

    # --- processes ---------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed by the child's exit
        process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_redis(self, *, appendonly: bool = False) -> None:
        data_dir = self.log_dir / "redis"
        data_dir.mkdir(exist_ok=True)
        self._spawn(
            "redis",
            [
                redis_server_binary(), "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes" if appendonly else "no",
                "--dir", str(data_dir), "--protected-mode", "yes",
            ],
        )
        self._wait(lambda: self._redis_ping(), "redis", 10)

    def _redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start_service(self, name: str) -> None:
        self._spawn(name, [sys.executable, "-m", f"services.{name}"])

    def wait_service(self, name: str, timeout: float = 30) -> None:
        self._wait(lambda: check(self.address(name), timeout=0.5), name, timeout)

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self._spawn(
            name,
            [
                sys.executable, "-m", "celery", "-A", "services.worker.app", "worker",
                "-Q", "footcds", "--pool", "prefork", "--concurrency", str(self.worker_concurrency),
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
            ],
        )

    def wait_worker(self, timeout: float = 60) -> None:
        from celery import Celery

        probe = Celery(broker=self.redis_url, backend=self.redis_url)
        probe.conf.accept_content = ["msgpack", "json"]
        try:
            self._wait(lambda: bool(probe.control.ping(timeout=0.5)), "worker", timeout)
        finally:
            probe.close()

    def start(self, *, worker: bool = True) -> LocalSuite:
        self.start_redis()
        for name in SERVICES:
            self.start_service(name)
        for name in SERVICES:
            self.wait_service(name)
        if worker:
            self.start_worker()
            self.wait_worker()
        return self

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        return process.returncode

    def stop(self) -> None:
        for name in [n for n in self.processes if n != "redis"] + ["redis"]:
            self.stop_process(name)

    def _wait(self, ready: object, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir}/{name}.log")
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} was not ready within {timeout} s; see {self.log_dir}/{name}.log")

    def log_text(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def main() -> int:
    """`make run`: the suite on the default ports until Ctrl-C."""
    from services.common.config import settings

    cfg = settings()
    ports = {name: getattr(cfg, f"{name}_port") for name in SERVICES}
    redis_port = int(cfg.redis_url.rsplit(":", 1)[1].split("/")[0])
    log_dir = ROOT / ".run"
    log_dir.mkdir(exist_ok=True)
    suite = LocalSuite(log_dir=log_dir, ports=ports, redis_port=redis_port)
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.start()
    except RuntimeError as exc:
        print(f"failed to start: {exc}", file=sys.stderr)
        suite.stop()
        return 1
    for name in SERVICES:
        print(f"  {name:<13} {suite.address(name)}  SERVING")
    print(f"  {'redis':<13} {suite.redis_url}")
    print(f"  {'worker':<13} celery, {suite.worker_concurrency} processes; logs in {log_dir}")
    print("ready  (Ctrl-C stops everything)", flush=True)
    try:
        while not stop:
            for name, process in list(suite.processes.items()):
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {log_dir}/{name}.log")
                    stop = True
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

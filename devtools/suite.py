"""Start the whole suite on one machine: a Redis, the five services and a Celery worker.

One launcher serves three users: ``make run`` (``python -m devtools.suite``), the
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
from typing import Literal

import grpc

from services.platform.healthcheck import check

SERVICES = ("intake", "differential", "workup", "treatment", "encounter")
METRICS_BASE_PORT = 9150  # `make run`: encounter 9150, intake 9151 ... treatment 9154, worker 9155
ROOT = Path(__file__).resolve().parents[1]


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
    """The suite's processes on loopback; ports are free ones unless given.

    Auth is on by default: the suite writes a tokens file into ``log_dir`` with a developer
    client ``dev`` (every scope; ``token``) and the worker's service identity
    (``service_token``); ``channel()`` and ``client_env()`` carry them. ``tls="tls"|"mtls"``
    generates a development CA and certificates in ``log_dir/certs``; ``metrics=True`` gives
    every process a /metrics port (``metrics_ports``).
    """

    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="footcds-")))
    ports: dict[str, int] = field(default_factory=dict)
    redis_port: int = 0
    worker_concurrency: int = 8
    worker_pool: str = "threads"  # as deployed; "prefork" measured too: docs/performance.md (fifth pass)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    auth: bool = True
    tls: Literal["off", "tls", "mtls"] = "off"
    metrics: bool = False
    metrics_ports: dict[str, int] = field(default_factory=dict)
    token: str = ""
    service_token: str = ""
    gateway_port: int = 0  # the HTTP gateway (start_gateway); a free port unless given

    def __post_init__(self) -> None:
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
        self.redis_port = self.redis_port or free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.auth:
            self._prepare_credentials()
        if self.tls != "off":
            from devtools.certs import generate

            generate(self.certs_dir)

    # --- credentials -------------------------------------------------------------------

    @property
    def tokens_file(self) -> Path:
        return self.log_dir / "tokens.json"

    @property
    def certs_dir(self) -> Path:
        return self.log_dir / "certs"

    def _prepare_credentials(self) -> None:
        """A developer token (every scope) and the worker's service token; `make run` keeps
        them across restarts so an exported FOOTCDS_TOKEN stays valid."""
        from services.platform.auth import ASSESS, RESULTS_READ, SCOPES, SCREEN, issue, trust_certificate

        dev, svc = self.log_dir / "dev-token", self.log_dir / "service-token"
        if self.tokens_file.exists() and dev.exists() and svc.exists():
            self.token, self.service_token = dev.read_text().strip(), svc.read_text().strip()
            return
        self.tokens_file.unlink(missing_ok=True)
        self.token = issue(self.tokens_file, "dev", sorted(SCOPES), max_concurrent=1000)
        self.service_token = issue(self.tokens_file, "worker", [ASSESS, SCREEN], max_concurrent=1000)
        trust_certificate(self.tokens_file, "worker", [ASSESS, SCREEN], max_concurrent=1000)
        trust_certificate(self.tokens_file, "ehr", [ASSESS, SCREEN, RESULTS_READ])
        for path, secret in ((dev, self.token), (svc, self.service_token)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secret + "\n")

    def issue_token(self, client_id: str, scopes: list[str], max_concurrent: int | None = None) -> str:
        """A new client in the running suite's tokens file (servers pick it up without restart)."""
        from services.platform.auth import issue

        return issue(self.tokens_file, client_id, scopes, max_concurrent)

    def client_credentials(self, cert: str | None = "ehr") -> grpc.ChannelCredentials | None:
        """TLS credentials trusting the suite's CA, presenting ``cert`` (a client name) if given."""
        if self.tls == "off":
            return None
        from services.platform.tls import channel_credentials

        certs = self.certs_dir
        return channel_credentials(
            ca=str(certs / "ca.pem"),
            cert=str(certs / f"{cert}.pem") if cert else "",
            key=str(certs / f"{cert}-key.pem") if cert else "",
        )

    def channel(self, service: str, *, token: str | None = None, cert: str | None = "ehr") -> grpc.Channel:
        """A channel to ``service`` as a client would dial it: TLS if on, the dev token by default."""
        from services.platform.tls import dial

        return dial(self.address(service), token=self.token if token is None else token,
                    credentials=self.client_credentials(cert))

    def client_env(self, cert: str = "ehr") -> dict[str, str]:
        """Environment for a CLI subprocess talking to this suite (token, TLS as the ``cert`` client)."""
        env = self.env()
        if self.tls != "off":
            env["FOOTCDS_TLS_CLIENT_CERT"] = str(self.certs_dir / f"{cert}.pem")
            env["FOOTCDS_TLS_CLIENT_KEY"] = str(self.certs_dir / f"{cert}-key.pem")
        return env

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
            FOOTCDS_AUTH_MODE="on" if self.auth else "off",
            FOOTCDS_METRICS_PORT="0",
        )
        if self.auth:
            env.update(FOOTCDS_TOKENS_FILE=str(self.tokens_file), FOOTCDS_SERVICE_TOKEN=self.service_token,
                       FOOTCDS_TOKEN=self.token)
        if self.tls != "off":
            certs = self.certs_dir
            env.update(
                FOOTCDS_TLS_CERT=str(certs / "server.pem"), FOOTCDS_TLS_KEY=str(certs / "server-key.pem"),
                FOOTCDS_TLS_CA=str(certs / "ca.pem"),
                FOOTCDS_TLS_CLIENT_AUTH="require" if self.tls == "mtls" else "none",
                FOOTCDS_TLS_CLIENT_CERT=str(certs / "worker.pem"), FOOTCDS_TLS_CLIENT_KEY=str(certs / "worker-key.pem"),
            )
        # CDS Hooks: the EHRs the gateway trusts, in a file tests and `make run` write (re-read live).
        env["FOOTCDS_CDS_TRUSTED_ISSUERS_FILE"] = str(self.cds_issuers_file)
        for name in SERVICES:
            env[f"FOOTCDS_{name.upper()}_PORT"] = str(self.ports[name])
            env[f"FOOTCDS_{name.upper()}_ADDR"] = self.address(name)
        env.update(self.extra_env)
        return env

    # --- processes ---------------------------------------------------------------------

    def _metrics_env(self, name: str) -> dict[str, str]:
        if not self.metrics or name in ("redis", "gateway"):
            return {}
        port = self.metrics_ports.setdefault(name, free_port())
        return {"FOOTCDS_METRICS_PORT": str(port)}

    def _spawn(self, name: str, argv: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed by the child's exit
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env(), **self._metrics_env(name), **(extra or {})}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
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

    def start_replica(self, name: str, replica: int) -> str:
        """Another process of service ``name`` on its own port (scale-out tests); its label."""
        label = f"{name}-{replica}"
        port = self.ports.setdefault(label, free_port())
        self._spawn(label, [sys.executable, "-m", f"services.{name}"], {f"FOOTCDS_{name.upper()}_PORT": str(port)})
        return label

    def wait_service(self, name: str, timeout: float = 30) -> None:
        credentials = self.client_credentials()
        self._wait(lambda: check(self.address(name), timeout=0.5, credentials=credentials), name, timeout)

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        extra = {"MALLOC_ARENA_MAX": "2"}  # as deployed: one process, many threads (docs/performance.md)
        if self.metrics:  # prefork children count tasks; the parent serves their sum
            shared = self.log_dir / f"{name}-metrics"
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            extra["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
        return self._spawn(
            name,
            [
                sys.executable, "-m", "celery", "-A", "services.worker.app", "worker",
                "-Q", "footcds", "--pool", self.worker_pool, "--concurrency", str(self.worker_concurrency),
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
            ],
            extra,
        )

    @property
    def cds_issuers_file(self) -> Path:
        return self.log_dir / "cds-issuers.json"

    def trust_cds_issuer(self, issuer: str, jwks_url: str) -> None:
        """Trust an EHR's JWT issuer (CDS Hooks); the running gateway picks it up on its next call."""
        import json

        current = json.loads(self.cds_issuers_file.read_text()) if self.cds_issuers_file.exists() else {}
        current[issuer] = jwks_url
        staged = self.cds_issuers_file.with_suffix(".tmp")
        staged.write_text(json.dumps(current))
        staged.replace(self.cds_issuers_file)  # atomic: the gateway never reads half a file

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start_gateway(self, timeout: float = 30) -> None:
        """The HTTP gateway (services/gateway), ready when its /healthz says so."""
        import urllib.error
        import urllib.request

        self.gateway_port = self.gateway_port or free_port()
        self._spawn("gateway", [sys.executable, "-m", "services.gateway"],
                    {"FOOTCDS_GATEWAY_PORT": str(self.gateway_port)})

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.gateway_url}/healthz", timeout=1) as reply:
                    return bool(reply.status == 200)
            except (OSError, urllib.error.URLError):
                return False

        self._wait(healthy, "gateway", timeout)

    def wait_worker(self, timeout: float = 60) -> None:
        from celery import Celery

        probe = Celery(broker=self.redis_url, backend=self.redis_url)
        probe.conf.accept_content = ["msgpack", "json"]

        def pong() -> bool:
            try:
                return bool(probe.control.ping(timeout=0.5))
            except Exception:  # e.g. a pooled connection to a Redis that was since restarted
                return False

        try:
            self._wait(pong, "worker", timeout)
        finally:
            probe.close()

    def start(self, *, worker: bool = True, redis: bool = True) -> LocalSuite:
        """Redis (unless the caller started its own: AOF, Sentinel), the services, a worker."""
        if redis:
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
    from services.platform.config import settings

    cfg = settings()
    ports = {name: getattr(cfg, f"{name}_port") for name in SERVICES}
    redis_port = int(cfg.redis_url.rsplit(":", 1)[1].split("/")[0])
    log_dir = ROOT / ".run"
    log_dir.mkdir(exist_ok=True)
    metrics_ports = {name: METRICS_BASE_PORT + i for i, name in enumerate(("encounter", *SERVICES[:4], "worker"))}
    suite = LocalSuite(log_dir=log_dir, ports=ports, redis_port=redis_port, metrics=True,
                       metrics_ports=metrics_ports, gateway_port=cfg.gateway_port)
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    from services.gateway.cds_hooks.devjwt import JWKS_PATH, dev_issuer_url

    suite.trust_cds_issuer(dev_issuer_url(), dev_issuer_url() + JWKS_PATH)  # development only
    try:
        suite.start()
        suite.start_gateway()
    except RuntimeError as exc:
        print(f"failed to start: {exc}", file=sys.stderr)
        suite.stop()
        return 1
    for name in SERVICES:
        print(f"  {name:<13} {suite.address(name)}  SERVING")
    print(f"  {'redis':<13} {suite.redis_url}")
    print(f"  {'worker':<13} celery, {suite.worker_pool} pool of {suite.worker_concurrency}; logs in {log_dir}")
    print(f"  {'metrics':<13} http://127.0.0.1:{{{min(metrics_ports.values())}..{max(metrics_ports.values())}}}/metrics"
          " (encounter, intake, differential, workup, treatment, worker)")
    print(f"  {'tablet':<13} {suite.gateway_url}/intake")
    print(f"  {'staff':<13} {suite.gateway_url}/staff   # sign in with the dev token or a 'staff' token")
    print(f"  {'cds-hooks':<13} {suite.gateway_url}/cds-services   # dev EHR JWTs: see README")
    print(f"  {'auth':<13} export FOOTCDS_TOKEN=$(cat {log_dir.relative_to(ROOT)}/dev-token)   # every scope")
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

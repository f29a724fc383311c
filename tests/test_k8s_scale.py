"""deploy/k8s scales past one machine: every manifest valid against the Kubernetes schemas,
load spread over replicas, workers scaled on the queue, Redis without a single point of failure,
disruption budgets, and network policies that let only the suite reach Redis and the services.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.platform.redis_client import parse_sentinel_url

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"  # the oldest version the manifests promise (native grpc probes: 1.24+)
# Custom resources have no schema in kubernetes-validate: checked by structure below.
CUSTOM_KINDS = {"Kustomization", "ScaledObject", "TriggerAuthentication"}
GRPC = {"encounter": 50050, "intake": 50051, "differential": 50052, "workup": 50053, "treatment": 50054}


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


def by_kind() -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for _, doc in documents():
        out[doc["kind"]][doc.get("metadata", {}).get("name", "")] = doc
    return out


@pytest.mark.parametrize("filename,doc", [d for d in documents() if d[1]["kind"] not in CUSTOM_KINDS],
                         ids=lambda v: v if isinstance(v, str) else f"{v['kind']}/{v['metadata']['name']}")
def test_every_manifest_is_valid_for_kubernetes(filename: str, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{filename}: {exc.message} at {list(exc.path)}") from exc


def test_grpc_services_are_headless_and_dialed_round_robin() -> None:
    kinds = by_kind()
    config = kinds["ConfigMap"]["footcds-config"]["data"]
    assert config["FOOTCDS_GRPC_LB_POLICY"] == "round_robin"
    for name, port in GRPC.items():
        assert kinds["Service"][name]["spec"]["clusterIP"] == "None", name
        assert config[f"FOOTCDS_{name.upper()}_ADDR"] == f"dns:///{name}.footcds.svc.cluster.local:{port}"


def test_workers_scale_on_the_celery_queue_and_services_on_cpu() -> None:
    kinds = by_kind()
    scaled = kinds["ScaledObject"]["worker"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis-sentinel"
    assert trigger["metadata"]["listName"] == "footcds"  # the Celery queue (services/worker/app.py)
    assert trigger["metadata"]["sentinelMaster"] == kinds["ConfigMap"]["footcds-config"]["data"][
        "FOOTCDS_REDIS_SENTINEL_MASTER"]
    assert int(trigger["metadata"]["listLength"]) > 0
    auth = kinds["TriggerAuthentication"][trigger["authenticationRef"]["name"]]
    assert auth["spec"]["secretTargetRef"][0]["name"] == "footcds-redis"
    # KEDA owns the worker's HPA; a second one would fight it.
    hpas = kinds["HorizontalPodAutoscaler"]
    assert "worker" not in {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {*GRPC, "gateway"}


def test_redis_runs_with_sentinel_and_every_pod_finds_it() -> None:
    kinds = by_kind()
    redis = kinds["StatefulSet"]["redis"]
    assert redis["spec"]["replicas"] == 3
    containers = {c["name"]: c for c in redis["spec"]["template"]["spec"]["containers"]}
    assert "--sentinel" in containers["sentinel"]["args"]
    script = kinds["ConfigMap"]["redis-scripts"]["data"]["init.sh"]
    assert "sentinel monitor footcds" in script and "sentinel get-master-addr-by-name footcds" in script
    for name, dep in kinds["Deployment"].items():
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        url = next(e["value"] for e in container["env"] if e["name"] == "FOOTCDS_REDIS_URL")
        target = parse_sentinel_url(url.replace("$(REDIS_PASSWORD)", "pw"))
        assert len(target.hosts) == 3 and target.password == "pw", name


def test_every_workload_has_a_disruption_budget() -> None:
    kinds = by_kind()
    workloads = set(kinds["Deployment"]) | set(kinds["StatefulSet"])
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for b in kinds["PodDisruptionBudget"].values()}
    assert workloads <= budgets
    for budget in kinds["PodDisruptionBudget"].values():
        assert budget["spec"]["maxUnavailable"] == 1


def test_network_policies_deny_by_default_and_admit_only_the_suite() -> None:
    kinds = by_kind()
    policies = kinds["NetworkPolicy"]
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    redis = policies["redis-from-the-suite"]["spec"]
    assert redis["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "redis"
    (rule,) = redis["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "footcds"}}}]
    domain = policies["domain-services-from-the-suite"]["spec"]
    (allowed,) = domain["ingress"]
    callers = set(allowed["from"][0]["podSelector"]["matchExpressions"][0]["values"])
    assert callers == {"worker", "encounter", "gateway"}
    # Every FootCDS pod carries the label the Redis policy admits.
    for dep in kinds["Deployment"].values():
        assert dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "footcds"

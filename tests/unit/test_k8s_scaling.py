"""Offline checks of the scaling and monitoring manifests: k8s/components (KEDA, Prometheus Operator,
HPA fallback), the example overlay that uses them, and the metrics ports, scrape annotations and
disruption budgets of k8s/base.

Built-in kinds are validated with kubernetes-validate (strict); the custom resources (ScaledObject,
TriggerAuthentication, ServiceMonitor) with jsonschema against tests/unit/k8s_schemas (subsets written
from the CRDs' types, see the README there). The rules a schema cannot express — references between
objects, ports that must agree — are asserted here.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
COMPONENTS = sorted(path for path in (K8S / "components").iterdir() if path.is_dir())
SCHEMAS = Path(__file__).resolve().parent / "k8s_schemas"
KUBERNETES_VERSION = "1.31.0"  # as tests/unit/test_k8s_manifests.py
METRICS_PORTS = {"catalogue": 9101, "downloader": 9102, "processor": 9103}
GATEWAY_PORT = 8080
WORKERS = ("downloader", "processor")

Doc = dict[str, Any]


def _load(path: Path) -> list[Doc]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


@functools.cache
def base_docs() -> list[Doc]:
    return [
        doc for path in sorted(BASE.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in _load(path)
    ]


@functools.cache
def component_docs(name: str) -> list[Doc]:
    folder = K8S / "components" / name
    return [
        doc for path in sorted(folder.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in _load(path)
    ]


def find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = find(docs, kind, name)
    return found


def doc_id(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


@functools.cache
def crd_schema(api_version: str, kind: str) -> Doc | None:
    path = SCHEMAS / f"{api_version.replace('/', '_')}_{kind}.json"
    return json.loads(path.read_text()) if path.exists() else None


def validate(doc: Doc) -> None:
    """Strict schema validation of a built-in kind or of a custom resource we have a schema for."""
    schema = crd_schema(doc["apiVersion"], doc["kind"])
    if schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: e.json_path)
        if errors:
            pytest.fail(f"{doc_id(doc)}: {errors[0].json_path}: {errors[0].message}")
        return
    if "." in doc["apiVersion"].split("/")[0] and not doc["apiVersion"].startswith(
        ("apps/", "policy/", "autoscaling/", "networking.k8s.io/", "rbac.authorization.k8s.io/")
    ):
        pytest.fail(f"{doc_id(doc)}: custom resource without a schema in {SCHEMAS.name}/")
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{doc_id(doc)} at {'.'.join(map(str, exc.path))}: {exc.message}")


def pod_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


def env_value(container: Doc, name: str) -> str:
    (value,) = [item["value"] for item in container.get("env", []) if item["name"] == name]
    return str(value)


# --- schemas and listings -------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda path: path.name)
def test_component_manifests_pass_their_schemas(component: Path) -> None:
    docs = component_docs(component.name)
    assert docs, f"{component.name}: no manifests"
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda path: path.name)
def test_component_is_a_kustomize_component_listing_every_file(component: Path) -> None:
    (kustomization,) = _load(component / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    assert kustomization["kind"] == "Component"
    listed = kustomization.get("resources", [])
    own = sorted(path.name for path in component.glob("*.yaml") if path.name != "kustomization.yaml")
    assert sorted(listed) == own, "kustomize ignores unlisted files"
    # Patches name objects of the base: a missing one fails the whole apply.
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        assert find(base_docs(), target["kind"], target["name"]), target


def test_custom_resource_schemas_are_strict() -> None:
    # A misspelt field must fail, as in a strict apply: the schemas are not "anything goes".
    scaled = copy.deepcopy(one(component_docs("keda"), "ScaledObject", "geocube-processor"))
    scaled["spec"]["pollingIntervall"] = 15
    schema = crd_schema("keda.sh/v1alpha1", "ScaledObject")
    assert schema is not None
    assert not jsonschema.Draft202012Validator(schema).is_valid(scaled)
    del scaled["spec"]["pollingIntervall"]
    scaled["spec"]["triggers"][0]["metadata"]["targetQueryValue"] = 2  # KEDA wants strings
    assert not jsonschema.Draft202012Validator(schema).is_valid(scaled)
    monitor = copy.deepcopy(one(component_docs("prometheus-operator"), "ServiceMonitor", "geocube-ingester"))
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    monitor_schema = crd_schema("monitoring.coreos.com/v1", "ServiceMonitor")
    assert monitor_schema is not None
    assert not jsonschema.Draft202012Validator(monitor_schema).is_valid(monitor)


def test_example_overlay_uses_the_components() -> None:
    (kustomization,) = _load(K8S / "overlays" / "autoscaled" / "kustomization.yaml")
    assert kustomization["resources"] == ["../../base"]
    for component in kustomization["components"]:
        assert (K8S / "overlays" / "autoscaled" / component / "kustomization.yaml").exists(), component


# --- KEDA -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", WORKERS)
def test_scaled_object_scales_its_worker_on_its_task_count(worker: str) -> None:
    docs = component_docs("keda")
    scaled = one(docs, "ScaledObject", f"geocube-{worker}")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == f"geocube-{worker}"
    assert one(base_docs(), "Deployment", f"geocube-{worker}")
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "postgresql"
    kind = "download" if worker == "downloader" else "process"
    query = trigger["metadata"]["query"]
    # The kind's task rows (queued + leased): the test in tests/integration/test_observability.py runs
    # these very queries against the real schema.
    assert re.fullmatch(rf"SELECT count\(\*\) FROM task WHERE kind = '{kind}'", query), query
    assert float(trigger["metadata"]["targetQueryValue"]) > 0
    # The connection comes from the TriggerAuthentication, never from the manifest itself.
    assert not {"connectionFromEnv", "host", "passwordFromEnv"} & trigger["metadata"].keys()
    auth = one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert [ref["parameter"] for ref in auth["spec"]["secretTargetRef"]] == ["connection"]


def test_trigger_authentication_reads_a_placeholder_secret_no_pod_mounts() -> None:
    docs = component_docs("keda")
    (auth,) = find(docs, "TriggerAuthentication")
    for ref in auth["spec"]["secretTargetRef"]:
        secret = one(docs, "Secret", ref["name"])
        assert ref["key"] in secret["stringData"]
        assert "REPLACE-ME" in secret["stringData"][ref["key"]]
        for deployment in find(base_docs(), "Deployment"):
            assert ref["name"] not in json.dumps(pod_spec(deployment)), doc_id(deployment)


def test_keda_component_removes_only_the_workers_replicas() -> None:
    (kustomization,) = _load(K8S / "components" / "keda" / "kustomization.yaml")
    targets = sorted(patch["target"]["name"] for patch in kustomization["patches"])
    assert targets == [f"geocube-{worker}" for worker in WORKERS]
    for patch in kustomization["patches"]:
        assert yaml.safe_load(patch["patch"]) == [{"op": "remove", "path": "/spec/replicas"}]
        # Removing a missing field fails the build: the base must set it.
        assert "replicas" in one(base_docs(), "Deployment", patch["target"]["name"])["spec"]


def test_hpa_fallback_targets_the_workers() -> None:
    for hpa in find(component_docs("hpa"), "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in {f"geocube-{w}" for w in WORKERS}
        assert one(base_docs(), "Deployment", target["name"])
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


# --- metrics ports, scraping, budgets --------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(METRICS_PORTS))
def test_grpc_service_serves_metrics_where_prometheus_looks(service: str) -> None:
    port = METRICS_PORTS[service]
    deployment = one(base_docs(), "Deployment", f"geocube-{service}")
    (container,) = pod_spec(deployment)["containers"]
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert env_value(container, f"GEOCUBE_{service.upper()}_METRICS_ADDRESS") == f"0.0.0.0:{port}"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}
    ports = {p["name"]: p for p in one(base_docs(), "Service", f"geocube-{service}")["spec"]["ports"]}
    assert ports["metrics"] == {"name": "metrics", "port": port, "targetPort": "metrics"}


def test_gateway_is_scraped_on_its_http_port() -> None:
    deployment = one(base_docs(), "Deployment", "geocube-gateway")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(GATEWAY_PORT)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_monitor_selects_every_service_and_their_ports() -> None:
    (monitor,) = find(component_docs("prometheus-operator"), "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    services = [s for s in find(base_docs(), "Service") if selector <= s["metadata"]["labels"].items()]
    assert {s["metadata"]["name"] for s in services} == {
        *(f"geocube-{name}" for name in METRICS_PORTS),
        "geocube-gateway",
    }
    ports = {p["name"] for s in services for p in s["spec"]["ports"]}
    endpoint_ports = {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]}
    assert endpoint_ports == {"metrics", "http"} and endpoint_ports <= ports
    assert {endpoint["path"] for endpoint in monitor["spec"]["endpoints"]} == {"/metrics"}
    # The gateway's "http" port is the one with /metrics; no gRPC Service has a port of that name.
    assert [s["metadata"]["name"] for s in services if "http" in {p["name"] for p in s["spec"]["ports"]}] == [
        "geocube-gateway"
    ]


def test_disruption_budgets_cover_the_replicated_deployments() -> None:
    budgets = find(base_docs(), "PodDisruptionBudget")
    covered = set()
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"].items()
        matched = [
            d for d in find(base_docs(), "Deployment") if selector <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, doc_id(budget)
        # maxUnavailable: a drain can always proceed, even with one replica (dev, autoscalers at minimum).
        assert budget["spec"] == {**budget["spec"], "maxUnavailable": 1}
        assert "minAvailable" not in budget["spec"]
        covered.add(matched[0]["metadata"]["name"])
    assert covered == {"geocube-gateway", "geocube-downloader", "geocube-processor"}


@pytest.mark.parametrize("service", sorted(METRICS_PORTS))
def test_network_policies_let_prometheus_reach_the_metrics_port_only(service: str) -> None:
    labels = one(base_docs(), "Deployment", f"geocube-{service}")["spec"]["template"]["metadata"]["labels"]

    def selects(selector: Doc) -> bool:
        if not selector.get("matchLabels", {}).items() <= labels.items():
            return False
        return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))

    policies = [p for p in find(base_docs(), "NetworkPolicy") if selects(p["spec"]["podSelector"])]
    open_rules = [rule for p in policies for rule in p["spec"].get("ingress", []) if "from" not in rule]
    # Prometheus runs in another namespace: the metrics port admits any peer, and nothing else does.
    assert open_rules, f"{service}: no rule lets a scraper in"
    assert all([port["port"] for port in rule["ports"]] == ["metrics"] for rule in open_rules)

"""Offline checks of the Kubernetes manifests in k8s/ and of the Dockerfile they run.

Every manifest is validated against the OpenAPI schemas that kubernetes-validate ships (strict mode:
unknown fields are errors, so a typo such as `readinessprobe` cannot pass silently). The rules the
schema cannot express, and that break a deployment at apply or run time, are asserted here: resources,
probes on the served port, secret isolation, selectors, references between objects, kustomization
listings.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
OVERLAYS = sorted(path for path in (K8S / "overlays").iterdir() if path.is_dir())

# A fixed version, so a kubernetes-validate upgrade cannot change the verdict. 1.31 is old enough for
# most managed clusters and has everything used here (native gRPC probes went GA in 1.27).
KUBERNETES_VERSION = "1.31.0"

GRPC_SERVICES = {"catalogue": 50051, "downloader": 50052, "processor": 50053}
GATEWAY_PORT = 8080
DB_SECRET = "geocube-ingester-db"
GATEWAY_SECRET = "geocube-ingester-gateway"
GRPC_SECRET = "geocube-ingester-grpc"
WORKERS = {"geocube-downloader", "geocube-processor"}
# Which Deployment may read which Secret: the database credentials reach the catalogue only.
SECRET_READERS = {
    DB_SECRET: {"geocube-catalogue"},
    GATEWAY_SECRET: {"geocube-gateway"},
    GRPC_SECRET: {"geocube-catalogue", "geocube-gateway", *WORKERS},
}
# And which key of the gRPC Secret: the tokens a server accepts reach that server only.
GRPC_KEY_READERS = {
    "catalogue-tokens": {"geocube-catalogue"},
    "catalogue-token": {"geocube-gateway", *WORKERS},
    "worker-tokens": WORKERS,
}
IMAGE_UID = 10001

Doc = dict[str, Any]


def _load(path: Path) -> list[Doc]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


@functools.cache
def base_files() -> dict[str, list[Doc]]:
    """Manifest file name → its documents (kustomization.yaml excluded)."""
    paths = sorted(path for path in BASE.glob("*.yaml") if path.name != "kustomization.yaml")
    return {path.name: _load(path) for path in paths}


def base_docs() -> list[Doc]:
    return [doc for docs in base_files().values() for doc in docs]


def of_kind(kind: str, docs: list[Doc] | None = None) -> list[Doc]:
    return [doc for doc in (base_docs() if docs is None else docs) if doc["kind"] == kind]


def deployment(name: str) -> Doc:
    (found,) = [doc for doc in of_kind("Deployment") if doc["metadata"]["name"] == name]
    return found


def doc_id(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def pod_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


def containers(doc: Doc) -> list[Doc]:
    spec = pod_spec(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_value(container: Doc, name: str) -> str:
    (value,) = [item["value"] for item in container.get("env", []) if item["name"] == name]
    return str(value)


def validate_schema(doc: Doc) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        pytest.fail(
            f"{doc_id(doc)} fails the Kubernetes {KUBERNETES_VERSION} schema at {path}: {exc.message}"
        )


# Binary and decimal suffixes of resource quantities; enough for what manifests write by hand.
_QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTORS = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(text: str | float) -> float:
    match = _QUANTITY.match(str(text))
    assert match, f"unsupported resource quantity {text!r}"
    return float(match.group(1)) * _FACTORS[match.group(2)]


def secret_references(spec: Doc) -> Iterator[str]:
    """Every Secret name a pod spec can read: env, envFrom, volumes (plain and projected)."""
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield ref["name"]
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"]
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"]
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                yield source["secret"]["name"]
    for pull in spec.get("imagePullSecrets", []):
        yield pull["name"]


def secret_keys(spec: Doc, secret: str) -> set[str]:
    """The keys of `secret` a pod spec can read (a volume without `items` reads them all: "*")."""
    keys: set[str] = set()
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] == secret:
                keys.add(ref["key"])
        if any(source.get("secretRef", {}).get("name") == secret for source in container.get("envFrom", [])):
            keys.add("*")
    for volume in spec.get("volumes", []):
        if volume.get("secret", {}).get("secretName") == secret:
            items = volume["secret"].get("items")
            keys |= {item["key"] for item in items} if items else {"*"}
    return keys


def with_containers(doc: Doc, pod_containers: list[Doc]) -> Doc:
    return {**doc, "spec": {"template": {"spec": {"containers": pod_containers}}}}


def check_resources(doc: Doc) -> None:
    for container in containers(doc):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                where = f"{doc_id(doc)} {container['name']}"
                assert resource in resources.get(bound, {}), f"{where}: no {bound}.{resource}"
        # The API server rejects a pod whose request exceeds its limit.
        for resource, limit in resources["limits"].items():
            request = resources["requests"].get(resource)
            if request is not None:
                assert quantity(request) <= quantity(limit), f"{doc_id(doc)} {container['name']}: {resource}"


# --- schema ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", base_docs(), ids=doc_id)
def test_base_manifest_passes_strict_schema(doc: Doc) -> None:
    validate_schema(doc)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_overlay_own_manifests_pass_strict_schema(overlay: Path) -> None:
    for path in sorted(overlay.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for doc in _load(path):
                validate_schema(doc)


def test_base_is_namespace_free() -> None:
    # The namespace is an overlay's choice; a hard-coded one would override it on some objects only.
    assert [doc_id(doc) for doc in base_docs() if "namespace" in doc["metadata"]] == []


# --- kustomization listings -----------------------------------------------------------------------


def test_base_kustomization_lists_every_file() -> None:
    # kustomize ignores files it is not told about: a forgotten manifest would silently not deploy.
    listed = _load(BASE / "kustomization.yaml")[0]["resources"]
    assert sorted(listed) == sorted(base_files())
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_overlay_kustomization_lists_every_file(overlay: Path) -> None:
    kustomization = _load(overlay / "kustomization.yaml")[0]
    referenced = [
        *kustomization.get("resources", []),
        *(patch["path"] for patch in kustomization.get("patches", []) if "path" in patch),
    ]
    for ref in referenced:
        assert (overlay / ref).exists(), f"{overlay.name}: {ref} does not exist"
    own = {path.name for path in overlay.glob("*.yaml")} - {"kustomization.yaml"}
    assert own <= set(referenced), f"{overlay.name}: not listed: {sorted(own - set(referenced))}"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_overlay_patches_target_existing_objects(overlay: Path) -> None:
    # A patch naming a missing object fails the whole `kubectl apply -k`; one naming a missing
    # container adds a container without an image.
    kustomization = _load(overlay / "kustomization.yaml")[0]
    existing = {(doc["kind"], doc["metadata"]["name"]): doc for doc in base_docs()}
    for entry in kustomization.get("replicas", []):
        assert ("Deployment", entry["name"]) in existing, entry
    for entry in kustomization.get("patches", []):
        patch = yaml.safe_load(entry["patch"] if "patch" in entry else (overlay / entry["path"]).read_text())
        target = existing.get((patch["kind"], patch["metadata"]["name"]))
        assert target is not None, f"{overlay.name}: patch of missing {doc_id(patch)}"
        if patch["kind"] == "Deployment":
            base_containers = {container["name"]: container for container in containers(target)}
            for container in patch["spec"]["template"]["spec"].get("containers", []):
                where = f"{overlay.name}: {doc_id(patch)}"
                assert container["name"] in base_containers, f"{where} has no {container['name']}"
                # Strategic merge replaces resources key by key: the result must still set requests
                # and limits with requests <= limits.
                merged = {
                    bound: {
                        **base_containers[container["name"]]["resources"][bound],
                        **container.get("resources", {}).get(bound, {}),
                    }
                    for bound in ("requests", "limits")
                }
                check_resources(with_containers(patch, [{"name": container["name"], "resources": merged}]))


# --- deployments ----------------------------------------------------------------------------------


def test_every_service_has_a_deployment_and_a_service() -> None:
    expected = {f"geocube-{name}" for name in [*GRPC_SERVICES, "gateway"]}
    assert {doc["metadata"]["name"] for doc in of_kind("Deployment")} == expected
    assert {doc["metadata"]["name"] for doc in of_kind("Service")} == expected


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=doc_id)
def test_deployment_sets_requests_and_limits(doc: Doc) -> None:
    check_resources(doc)


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=doc_id)
def test_deployment_selector_matches_its_template(doc: Doc) -> None:
    selector = doc["spec"]["selector"]
    # matchExpressions are not used; refusing them keeps the subset check below complete.
    assert set(selector) == {"matchLabels"}
    labels = doc["spec"]["template"]["metadata"]["labels"]
    assert selector["matchLabels"].items() <= labels.items()
    assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= labels.keys()


def test_deployment_selectors_do_not_overlap() -> None:
    # A selector matching another Deployment's pods makes both controllers fight over them.
    for doc in of_kind("Deployment"):
        selector = doc["spec"]["selector"]["matchLabels"].items()
        claimed = [
            doc_id(other)
            for other in of_kind("Deployment")
            if selector <= other["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert claimed == [doc_id(doc)]


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_grpc_service_probes_its_served_port(name: str) -> None:
    port = GRPC_SERVICES[name]
    doc = deployment(f"geocube-{name}")
    (container,) = pod_spec(doc)["containers"]
    assert container["args"] == [name]
    assert {"name": "grpc", "containerPort": port} in container["ports"]
    # The process listens where the probes knock.
    assert env_value(container, f"GEOCUBE_{name.upper()}_ADDRESS") == f"0.0.0.0:{port}"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == port, probe


def test_gateway_probes_its_http_root() -> None:
    (container,) = pod_spec(deployment("geocube-gateway"))["containers"]
    assert container["args"] == ["gateway"]
    assert {"name": "http", "containerPort": GATEWAY_PORT} in container["ports"]
    assert env_value(container, "GEOCUBE_GATEWAY_ADDRESS") == f"0.0.0.0:{GATEWAY_PORT}"
    for probe in ("livenessProbe", "readinessProbe"):
        # `/` is the only path answering without a Bearer token.
        assert container[probe]["httpGet"] == {"path": "/", "port": "http"}, probe


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=doc_id)
def test_deployment_reads_only_its_secrets(doc: Doc) -> None:
    name = doc["metadata"]["name"]
    for secret in secret_references(pod_spec(doc)):
        assert name in SECRET_READERS.get(secret, set()), f"{name} must not read Secret {secret}"


def test_catalogue_and_gateway_get_their_secrets() -> None:
    assert DB_SECRET in set(secret_references(pod_spec(deployment("geocube-catalogue"))))
    assert GATEWAY_SECRET in set(secret_references(pod_spec(deployment("geocube-gateway"))))


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=doc_id)
def test_grpc_tokens_reach_only_their_readers_as_files(doc: Doc) -> None:
    name = doc["metadata"]["name"]
    spec = pod_spec(doc)
    keys = secret_keys(spec, GRPC_SECRET)
    assert keys == {key for key, readers in GRPC_KEY_READERS.items() if name in readers}, name
    # Every *_FILE setting points at a file of a mounted volume holding that key.
    (container,) = spec["containers"]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    files = {item["name"]: item["value"] for item in container["env"] if item["name"].endswith("TOKENS_FILE")}
    files |= {item["name"]: item["value"] for item in container["env"] if item["name"].endswith("TOKEN_FILE")}
    component = name.removeprefix("geocube-").upper()
    expected = set()
    if name in {"geocube-catalogue", *WORKERS}:
        expected.add(f"GEOCUBE_{component}_AUTH_TOKENS_FILE")
    if name != "geocube-catalogue":
        expected.add(f"GEOCUBE_{component}_CATALOGUE_TOKEN_FILE")
    assert set(files) == expected, name
    for variable, path in files.items():
        folder, key = path.rsplit("/", 1)
        (mount,) = [m for m in mounts.values() if m["mountPath"] == folder]
        assert mount.get("readOnly") is True
        secret = volumes[mount["name"]]["secret"]
        assert secret["secretName"] == GRPC_SECRET and key in {i["path"] for i in secret["items"]}, variable


def _grpc_secret_values(overlay: Path | None) -> dict[str, str]:
    (secret,) = [doc for doc in of_kind("Secret") if doc["metadata"]["name"] == GRPC_SECRET]
    values = dict(secret["stringData"])
    if overlay is not None:
        for entry in _load(overlay / "kustomization.yaml")[0].get("patches", []):
            patch = yaml.safe_load(entry["patch"]) if "patch" in entry else {}
            if patch.get("kind") == "Secret" and patch["metadata"]["name"] == GRPC_SECRET:
                values.update(patch["stringData"])
    return values


@pytest.mark.parametrize("overlay", [None, *OVERLAYS], ids=lambda path: path.name if path else "base")
def test_clients_send_a_token_the_catalogue_accepts(overlay: Path | None) -> None:
    values = _grpc_secret_values(overlay)
    accepted = {line.strip() for line in values["catalogue-tokens"].splitlines() if line.strip()}
    assert values["catalogue-token"].strip() in accepted
    assert values["worker-tokens"].strip() not in accepted  # one token per service


def test_secrets_are_marked_placeholders() -> None:
    secrets = of_kind("Secret")
    assert {doc["metadata"]["name"] for doc in secrets} == set(SECRET_READERS)
    for doc in secrets:
        assert set(doc) & {"stringData", "data"} == {"stringData"}, doc_id(doc)
        for key, value in doc["stringData"].items():
            assert "REPLACE-ME" in value, f"{doc_id(doc)}.{key} must stay an obvious placeholder"


def test_configmap_holds_no_secret_and_peers_are_services() -> None:
    (config,) = of_kind("ConfigMap")
    data = config["data"]
    assert not [key for key in data if re.search(r"DSN|TOKEN|PASSWORD|SECRET", key)]
    services = {
        doc["metadata"]["name"]: {port["port"] for port in doc["spec"]["ports"]} for doc in of_kind("Service")
    }
    addresses = {key: value for key, value in data.items() if key.endswith("_CATALOGUE_ADDRESS")}
    assert len(addresses) == 3
    for key, value in addresses.items():
        host, port = value.rsplit(":", 1)
        assert int(port) in services.get(host, set()), f"{key}={value} is no Service port"


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=doc_id)
def test_deployment_references_existing_objects(doc: Doc) -> None:
    # A missing ConfigMap, Secret key or claim leaves the pod Pending or in CreateContainerConfigError.
    objects = {(other["kind"], other["metadata"]["name"]): other for other in base_docs()}
    spec = pod_spec(doc)
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for container in containers(doc):
        for source in container.get("envFrom", []):
            assert ("ConfigMap", source["configMapRef"]["name"]) in objects
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in objects[("Secret", ref["name"])]["stringData"]
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes, f"{container['name']}: no volume {mount['name']}"
    for volume in volumes.values():
        claim = volume.get("persistentVolumeClaim")
        if claim:
            assert ("PersistentVolumeClaim", claim["claimName"]) in objects


@pytest.mark.parametrize("name", ["downloader", "processor"])
def test_workers_share_storage_and_have_a_scratch_workdir(name: str) -> None:
    doc = deployment(f"geocube-{name}")
    (container,) = pod_spec(doc)["containers"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod_spec(doc)["volumes"]}
    (config,) = of_kind("ConfigMap")
    storage = config["data"][f"GEOCUBE_{name.upper()}_STORAGE_URI"]
    assert volumes[mounts[storage]]["persistentVolumeClaim"]["claimName"] == "geocube-ingester-storage"
    workdir = env_value(container, f"GEOCUBE_{name.upper()}_WORKDIR")
    assert "emptyDir" in volumes[mounts[workdir]]
    (claim,) = [
        claim
        for claim in of_kind("PersistentVolumeClaim")
        if claim["metadata"]["name"] == "geocube-ingester-storage"
    ]
    # Replicas on different nodes write to it at once.
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=doc_id)
def test_deployment_runs_locked_down(doc: Doc) -> None:
    spec = pod_spec(doc)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == IMAGE_UID
    # Kubernetes would otherwise inject GEOCUBE_<SERVICE>_PORT & co. into the settings prefixes.
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    # Long enough for a worker to finish or release its task after SIGTERM.
    assert spec["terminationGracePeriodSeconds"] >= 60
    mounts_tmp = False
    for container in containers(doc):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        mounts_tmp |= any(mount["mountPath"] == "/tmp" for mount in container["volumeMounts"])
    assert mounts_tmp, "a read-only root needs a writable /tmp"


@pytest.mark.parametrize("doc", [*of_kind("Deployment"), *of_kind("Service")], ids=doc_id)
def test_labels_follow_the_recommended_keys(doc: Doc) -> None:
    labels = doc["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "geocube-ingester"
    assert labels["app.kubernetes.io/component"] == doc["metadata"]["name"].removeprefix("geocube-")


@pytest.mark.parametrize("doc", of_kind("Service"), ids=doc_id)
def test_service_selects_a_deployment_port(doc: Doc) -> None:
    selector = doc["spec"]["selector"].items()
    matched = [
        other
        for other in of_kind("Deployment")
        if selector <= other["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(matched) == 1, f"{doc_id(doc)} selects {[doc_id(other) for other in matched]}"
    ports = [port for container in containers(matched[0]) for port in container.get("ports", [])]
    for port in doc["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        key = "name" if isinstance(target, str) else "containerPort"
        assert any(candidate.get(key) == target for candidate in ports), f"{doc_id(doc)}: no port {target}"


# --- image ----------------------------------------------------------------------------------------


def test_dockerfile_matches_the_manifests() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "geocube-ingester" in scripts
    assert 'ENTRYPOINT ["geocube-ingester"]' in dockerfile
    # runAsNonRoot can only be checked by the kubelet against a numeric user.
    (user,) = re.findall(r"^USER\s+(\S+)$", dockerfile, flags=re.MULTILINE)
    assert user == f"{IMAGE_UID}:{IMAGE_UID}"
    for doc in of_kind("Deployment"):
        for container in containers(doc):
            assert container["image"] == "geocube-ingester:latest"


# --- network policies -----------------------------------------------------------------------------


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    if not set(selector) <= {"matchLabels", "matchExpressions"}:
        raise AssertionError(f"unsupported selector {selector}")
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _policies(overlay: Path | None) -> list[Doc]:
    own = [doc for path in sorted(overlay.glob("*.yaml")) for doc in _load(path)] if overlay else []
    return [doc for doc in [*base_docs(), *own] if doc["kind"] == "NetworkPolicy"]


def _pods(overlay: Path | None) -> dict[str, Doc]:
    own = [doc for path in sorted(overlay.glob("*.yaml")) for doc in _load(path)] if overlay else []
    return {
        doc["metadata"]["name"].removeprefix("geocube-"): doc
        for doc in [*base_docs(), *own]
        if doc.get("kind") == "Deployment"
    }


def allowed(overlay: Path | None, source: dict[str, str] | None, target: str, port: int) -> bool:
    """Whether a pod labelled `source` (None: outside the namespace) may connect to `target`'s port,
    evaluated as the API defines NetworkPolicy ingress: isolated once any policy selects the pod, then
    allowed when one of those policies has a rule matching both the peer and the port."""
    pods = _pods(overlay)
    target_labels = pods[target]["spec"]["template"]["metadata"]["labels"]
    named = {p["name"]: p["containerPort"] for c in containers(pods[target]) for p in c.get("ports", [])}
    selecting = [
        doc
        for doc in _policies(overlay)
        if "Ingress" in doc["spec"]["policyTypes"] and _selects(doc["spec"]["podSelector"], target_labels)
    ]
    assert selecting, f"{target} is not isolated by any policy"
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            ports = [named.get(p["port"], p["port"]) for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if not peers:
                return True
            for peer in peers:
                assert set(peer) == {"podSelector"}, peer  # same-namespace pods only
                if source is not None and _selects(peer["podSelector"], source):
                    return True
    return False


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "geocube-ingester", "app.kubernetes.io/component": component}


@pytest.mark.parametrize("overlay", [None, *OVERLAYS], ids=lambda path: path.name if path else "base")
def test_network_policies_allow_exactly_the_calls_the_services_make(overlay: Path | None) -> None:
    deny = [d for d in _policies(overlay) if d["spec"]["podSelector"] == {} and not d["spec"].get("ingress")]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"], "no default-deny ingress policy"
    intruder = {"app": "something-else"}
    for client in ("gateway", "downloader", "processor"):
        assert allowed(overlay, _labels(client), "catalogue", GRPC_SERVICES["catalogue"]), client
    for other in ("catalogue", "postgres"):
        assert not allowed(overlay, _labels(other), "catalogue", GRPC_SERVICES["catalogue"]), other
    assert not allowed(overlay, intruder, "catalogue", GRPC_SERVICES["catalogue"])
    assert not allowed(overlay, None, "catalogue", GRPC_SERVICES["catalogue"])
    for worker in ("downloader", "processor"):
        port = GRPC_SERVICES[worker]
        assert allowed(overlay, _labels("catalogue"), worker, port)
        assert allowed(overlay, _labels("gateway"), worker, port)
        peer = "processor" if worker == "downloader" else "downloader"
        assert not allowed(overlay, _labels(peer), worker, port)
        assert not allowed(overlay, intruder, worker, port)
        assert not allowed(overlay, None, worker, port)
    assert allowed(overlay, None, "gateway", GATEWAY_PORT)  # the public entry
    assert allowed(overlay, intruder, "gateway", GATEWAY_PORT)
    assert not allowed(overlay, None, "gateway", 9999)
    if "postgres" in _pods(overlay):
        assert allowed(overlay, _labels("catalogue"), "postgres", 5432)
        for other in ("gateway", "downloader", "processor"):
            assert not allowed(overlay, _labels(other), "postgres", 5432), other
        assert not allowed(overlay, intruder, "postgres", 5432)

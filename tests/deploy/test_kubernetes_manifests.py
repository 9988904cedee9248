"""examples/kubernetes/ checked against the Kubernetes API schemas (kubernetes-validate),
and against what the gateway's HA awareness reads and what the library accepts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from soajs.settings import Settings

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "examples" / "kubernetes").glob("*.yaml"))
#: A Kubernetes version kubernetes-validate ships schemas for.
KUBERNETES = "1.33.0"


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in MANIFESTS:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in documents() if d["kind"] == kind]
    return doc


def validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_there_are_manifests() -> None:
    kinds = sorted(d["kind"] for d in documents())
    assert kinds == ["Deployment", "Service"]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: d["kind"])
def test_every_manifest_is_valid_for_kubernetes(doc: dict[str, Any]) -> None:
    validate(doc)


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0]
                     .__setitem__("containerPort", "4381x"), id="port-not-a-number"),
        pytest.param(lambda d: d["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
                     .__setitem__("httpGett", {"path": "/heartbeat"}), id="misspelled-field"),
        pytest.param(lambda d: d["spec"].pop("selector"), id="no-selector"),
        pytest.param(lambda d: d["spec"].__setitem__("replicas", "two"), id="replicas-text"),
    ],
)  # fmt: skip
def test_a_broken_manifest_fails_validation(break_it: Any) -> None:
    broken = copy.deepcopy(by_kind("Deployment"))
    break_it(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_the_service_carries_what_the_gateway_ha_discovery_reads() -> None:
    service = by_kind("Service")
    labels = service["metadata"]["labels"]
    assert labels["soajs.content"] == "true"  # the label selector of the listing
    assert labels["soajs.service.type"] == "service"
    name, version, env = (labels["soajs.service.name"], labels["soajs.service.version"],
                          labels["soajs.env.code"])  # fmt: skip
    # the gateway's fallback host name: <env>-<name>-v<version, "." as "x">-service
    assert service["metadata"]["name"] == f"{env}-{name}-v{version.replace('.', 'x')}-service"
    deployment = by_kind("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_probes_hit_the_maintenance_listener_and_env_is_what_the_library_reads() -> None:
    container = by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["maintenance"] == ports["service"] + 1000  # port + maintenanceInc
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/heartbeat", "port": "maintenance"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SOAJS_DEPLOY_HA"] == "kubernetes"
    library = {k: v for k, v in env.items() if k in Settings.variables().values()}
    settings = Settings.from_env(library)  # every value is one the library accepts
    assert settings.deploy_ha == "kubernetes" and settings.env == "dev"
    assert settings.registry_api is not None

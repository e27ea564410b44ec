"""The chart's search service (`serve.enabled`): a Deployment and a Service, probes on /readyz and
/healthz, resources, the bearer key from the chart's Secret; off by default. Rendered offline with
helm-python-sdk and validated strictly against the Kubernetes schemas (see test_helm_chart.py)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.test_helm_chart import CHART, KUBE_VERSIONS, SECRETS_DIR, chart, helm, kubernetes_validate, render

__all__ = ["chart"]  # the module-scoped fixture, shared

SERVE = {"serve": {"enabled": True}, "secrets": {"KV_API_KEY": "serve-key-do-not-leak",
                                                  "QDRANT_API_KEY": "qdrant-key-do-not-leak"}}


def _objects(chart: Any, values: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in render(chart, values):
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def _serve_objects(chart: Any, values: dict[str, Any] = SERVE) -> tuple[dict[str, Any], dict[str, Any]]:
    kinds = _objects(chart, values)
    [deployment] = [d for d in kinds.get("Deployment", []) if d["metadata"]["name"].endswith("-serve")]
    [service] = [s for s in kinds.get("Service", []) if s["metadata"]["name"].endswith("-serve")]
    return deployment, service


def test_off_by_default(chart: Any) -> None:
    names = [o["metadata"]["name"] for o in render(chart, {})]
    assert not [n for n in names if n.endswith("-serve")]


def test_lint_and_strict_schema_when_enabled(chart: Any) -> None:
    report = helm.lint(CHART, SERVE, strict=True, namespace="data")
    assert report["errors"] == [] and report["messages"] == [], report
    for kube_version in KUBE_VERSIONS:
        for obj in render(chart, SERVE):
            kubernetes_validate.validate(obj, kube_version, strict=True)


def test_deployment_runs_serve_with_probes_resources_and_key_file(chart: Any) -> None:
    deployment, service = _serve_objects(chart)
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"] == ["keboola-vectorizer"]
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["resources"]["limits"]["cpu"] and container["resources"]["requests"]["memory"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KV_SECRETS_DIR"]["value"] == SECRETS_DIR and env["QDRANT_URL"]["value"].startswith("http")
    assert not [e for e in container["env"] if "KEY" in e["name"] and "value" in e]  # keys are files
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == SECRETS_DIR)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    secrets = _objects(chart, SERVE)["Secret"]
    [secret] = [s for s in secrets if s["metadata"]["name"] == volume["secret"]["secretName"]]
    assert base64.b64decode(secret["data"]["KV_API_KEY"]).decode() == "serve-key-do-not-leak"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["selector"]["matchLabels"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_values_reach_the_objects(chart: Any) -> None:
    values = {**SERVE, "serve": {"enabled": True, "replicas": 3, "port": 9000,
                                 "service": {"type": "LoadBalancer", "port": 443},
                                 "resources": {"limits": {"cpu": "4", "memory": "3Gi"}}}}
    deployment, service = _serve_objects(chart, values)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 3 and container["args"][-1] == "9000"
    assert container["ports"][0]["containerPort"] == 9000 and container["resources"]["limits"]["cpu"] == "4"
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["ports"][0]["port"] == 443


def test_serve_without_a_key_is_refused(chart: Any) -> None:
    with pytest.raises(helm.HelmRenderError, match="KV_API_KEY"):
        chart.render({"serve": {"enabled": True}}, name="kv", namespace="data")
    deployment, _ = _serve_objects(chart, {"serve": {"enabled": True}, "existingSecret": "kv-managed"})
    assert deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "kv-managed"


@pytest.mark.parametrize("values", [{"serve": {"enabled": "yes"}}, {"serve": {"port": 0}},
                                    {"serve": {"service": {"type": "Ingress"}}}, {"serve": {"replica": 2}}])
def test_bad_values_are_refused(chart: Any, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render(chart, values)

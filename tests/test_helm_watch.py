"""The chart's watch Deployment: off by default; when on, one replica beside the CronJob, strictly valid,
with the same secrets, config and store settings as the CronJob (rendered like tests/test_helm_chart.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_helm_chart import (
    CHART,
    KUBE_VERSIONS,
    PROJECTS,
    SECRET_VALUES,
    by_kind,
    container,
    env_of,
    helm,
    kubernetes_validate,
    render,
)

WATCH = {"watch": {"enabled": True}}
VARIANTS: dict[str, dict[str, Any]] = {
    "watch": WATCH,
    "watch-projects-manifests": {"watch": {"enabled": True, "pollManifests": True, "pollInterval": 5,
                                           "manifestIntervalMinutes": 2}, "keboola": {"projects": PROJECTS},
                                 "secrets": SECRET_VALUES},
    "watch-datadog-off": {**WATCH, "datadog": {"enabled": False}},
}


@pytest.fixture(scope="module")
def chart() -> Any:
    try:
        helm.disable_logging()
        loaded = helm.Chart.load(CHART)
    except (OSError, helm.HelmLibraryError) as exc:
        pytest.skip(f"helm-python-sdk's native Helm library cannot run here: {exc}")
    with loaded:
        yield loaded


def test_watch_is_off_by_default(chart: Any) -> None:
    assert "Deployment" not in by_kind(render(chart))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_watch_lints_and_validates_strictly(chart: Any, variant: str) -> None:
    report = helm.lint(CHART, VARIANTS[variant], strict=True, namespace="data")
    assert report["errors"] == [] and report["messages"] == [], report["messages"]
    objects = render(chart, VARIANTS[variant])
    assert {"CronJob", "Deployment"} <= {o["kind"] for o in objects}  # the CronJob stays the safety net
    for kube_version in KUBE_VERSIONS:
        for obj in objects:
            kubernetes_validate.validate(obj, kube_version, strict=True)


def test_one_watcher_at_a_time_with_the_cronjobs_settings(chart: Any) -> None:
    values = VARIANTS["watch-projects-manifests"]
    kinds = by_kind(render(chart, values))
    watch, cron = kinds["Deployment"], kinds["CronJob"]
    assert watch["spec"]["replicas"] == 1 and watch["spec"]["strategy"] == {"type": "Recreate"}
    pod = watch["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    assert main["command"] == ["keboola-vectorizer"]
    assert main["args"] == ["watch", "--poll-interval", "5", "--settle", "3", "--poll-manifests",
                            "--manifest-interval", "2"]
    watch_env = {e["name"]: e for e in main["env"]}
    assert len(watch_env) == len(main["env"])
    cron_env = env_of(cron)
    for name in ("KV_SECRETS_DIR", "KBC_PROJECTS_CONFIG", "QDRANT_URL", "QDRANT_COLLECTION", "EMBEDDING_PROVIDER",
                 "LOG_FORMAT", "DD_AGENT_HOST"):
        assert watch_env[name] == cron_env[name], name
    assert watch["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "watch"
    assert watch["metadata"]["labels"]["app.kubernetes.io/component"] == "watch"
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    assert mounts == {m["name"]: m["mountPath"] for m in container(cron)["volumeMounts"]}
    assert pod["securityContext"]["runAsNonRoot"] is True and main["securityContext"]["readOnlyRootFilesystem"]
    text = str(watch)
    assert not any(secret in text for secret in SECRET_VALUES.values())  # tokens come as files only

"""The Helm chart renders into valid, safe Kubernetes objects.

The chart is linted and rendered offline with helm-python-sdk (Helm v4's own engine, bound through
ctypes: no helm binary, no cluster), then each object is checked against the Kubernetes JSON schemas
with kubernetes-validate in strict mode (unknown fields are errors). kubernetes-validate does not
check enum values such as `Forbid`, so the tests below assert those directly.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is not installed (pip install -e '.[dev]')"
)
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (pip install -e '.[dev]')"
)

CHART = Path(__file__).resolve().parent.parent / "helm" / "keboola-vectorizer"
SECRETS_DIR = "/var/run/secrets/keboola-vectorizer"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema shipped.
KUBE_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
MAX_CRONJOB_NAME = 52  # the controller appends "-<minutes since epoch>" (11 chars); a Job name is <= 63

# Values that look like real secrets, so a leak anywhere in the rendered text is easy to spot.
SECRET_VALUES = {
    "KBC_STORAGE_TOKEN": "9001-kbc-token-do-not-leak",
    "QDRANT_API_KEY": "qdrant-key-do-not-leak",
    "OPENAI_API_KEY": "sk-openai-do-not-leak",
    "KBC_TOKEN_SALES": "9002-sales-token-do-not-leak",
}
PROJECTS = [
    {"url": "https://connection.keboola.com", "token_secret": "KBC_TOKEN_SALES", "name": "sales"},
    {"url": "https://connection.eu-central-1.keboola.com", "token_secret": "KBC_STORAGE_TOKEN",
     "name": "marketing"},
]

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "secret-values": {"secrets": SECRET_VALUES},
    "existing-secret": {"existingSecret": "kv-managed-elsewhere", "secrets": SECRET_VALUES},
    "projects": {"keboola": {"projects": PROJECTS}, "secrets": SECRET_VALUES},
    "indexed-job": {
        "keboola": {"projects": PROJECTS},
        "existingSecret": "kv-tokens",
        "indexedJob": {"enabled": True, "shards": 2},
    },
    "datadog-off-openai": {
        "datadog": {"enabled": False},
        "embedding": {"provider": "openai", "model": "text-embedding-3-small",
                      "openaiBaseUrl": "https://llm-proxy.internal/v1"},
        "extraArgs": ["--rebuild"],
        "podAnnotations": {"example.com/team": "data"},
        "qdrant": {"peerUrls": [f"http://qdrant-{i}.qdrant-headless.qdrant:6333" for i in range(3)]},
    },
}


@pytest.fixture(scope="module")
def chart():
    try:
        helm.disable_logging()  # `fail` in lint mode logs to stderr otherwise
        loaded = helm.Chart.load(CHART)
    except (OSError, helm.HelmLibraryError) as exc:  # the bundled libhelm_c could not be loaded
        pytest.skip(f"helm-python-sdk's native Helm library cannot run here: {exc}")
    with loaded:
        yield loaded


def render(chart, values: dict[str, Any] | None = None, name: str = "kv") -> list[dict[str, Any]]:
    manifests = chart.render(values or {}, name=name, namespace="data")
    objects = []
    for path, text in manifests.items():
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for obj in objects:
        assert obj["kind"] not in kinds, f"two {obj['kind']} objects rendered"
        kinds[obj["kind"]] = obj
    return kinds


def cronjob(chart, values: dict[str, Any] | None = None, name: str = "kv") -> dict[str, Any]:
    return by_kind(render(chart, values, name))["CronJob"]


def pod_spec(cj: dict[str, Any]) -> dict[str, Any]:
    return cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container(cj: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(cj)["containers"]
    return only


def env_of(cj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    env = container(cj)["env"]
    names = [item["name"] for item in env]
    assert len(names) == len(set(names)), f"duplicate env vars: {names}"
    return {item["name"]: item for item in env}


# --- lint and schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_lint_strict_is_clean(chart, variant):
    report = helm.lint(CHART, VARIANTS[variant], strict=True, namespace="data")
    assert report["errors"] == []
    assert report["messages"] == [], report["messages"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_objects_validate_strictly_against_kubernetes_schemas(chart, variant, kube_version):
    objects = render(chart, VARIANTS[variant])
    assert objects
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']} is invalid for {kube_version}: {exc}")


@pytest.mark.parametrize("values, message", [
    ({"indexedJob": {"shard": 2}}, "additional properties 'shard'"),
    ({"embedding": {"provider": "huggingface"}}, "local"),
    ({"job": {"failJobExitCodes": []}}, "failJobExitCodes"),
    ({"qdrant": {"url": ""}}, "qdrant/url"),
    ({"secrets": {"bad key/with slash": "x"}}, "bad key/with slash"),
    # The indexer's projects config refuses unknown keys and inline tokens: catch them at install time.
    ({"keboola": {"projects": [{**PROJECTS[0], "token": "inline"}]}}, "additional properties 'token'"),
])
def test_schema_rejects_bad_values(chart, values, message):
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        chart.render(values, name="kv", namespace="data")


@pytest.mark.parametrize("values, message", [
    ({"keboola": {"storageApiUrl": "", "projects": []}}, "keboola.storageApiUrl"),
    ({"indexedJob": {"enabled": True}}, "list the projects"),
    ({"keboola": {"projects": PROJECTS}}, "token_secret KBC_TOKEN_SALES has no value"),
    ({**VARIANTS["indexed-job"], "extraArgs": ["--rebuild"]}, "--rebuild cannot run as an Indexed Job"),
    # The CLI exits 3 when its shard holds no project, and 3 fails the whole Job.
    ({**VARIANTS["indexed-job"], "indexedJob": {"enabled": True, "shards": 3}}, "exceeds the 2 projects"),
])
def test_inconsistent_values_fail_at_render_time(chart, values, message):
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        chart.render(values, name="kv", namespace="data")


def test_every_value_is_commented():
    """Each top-level key and each key of the chart's own groups has a comment line above it."""
    native_blocks = {"resources", "podSecurityContext", "securityContext"}
    lines = (CHART / "values.yaml").read_text().splitlines()
    parent = ""
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"^( {0,2})([A-Za-z_][\w.-]*):", line)
        if not match:
            continue
        indent, key = match.groups()
        if not indent:
            parent = key
        elif parent in native_blocks:
            continue
        previous = lines[i - 1].strip() if i else ""
        if not previous.startswith("#"):
            missing.append(f"{parent + '.' if indent else ''}{key}")
    assert missing == []


# --- the CronJob -----------------------------------------------------------------------------------


def test_default_release_renders_cronjob_secret_and_serviceaccount(chart):
    kinds = by_kind(render(chart))
    assert set(kinds) == {"CronJob", "Secret", "ServiceAccount"}
    assert "data" not in kinds["Secret"], "empty secret values must be left out"
    assert pod_spec(kinds["CronJob"])["serviceAccountName"] == kinds["ServiceAccount"]["metadata"]["name"]


def test_cronjob_schedule_and_job_policies(chart):
    cj = cronjob(chart)
    spec = cj["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["timeZone"] == "Etc/UTC"
    assert 300 <= spec["startingDeadlineSeconds"] <= 900
    assert len(spec["schedule"].split()) == 5
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1
    assert job["activeDeadlineSeconds"] > 0
    assert job["ttlSecondsAfterFinished"] > 0
    assert "completionMode" not in job
    assert pod_spec(cj)["restartPolicy"] == "Never"


def test_pod_failure_policy_fails_fast_on_config_and_token_errors_and_ignores_evictions(chart):
    cj = cronjob(chart)
    rules = cj["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    fail_job = [r for r in rules if r["action"] == "FailJob"]
    assert len(fail_job) == 1
    on_exit = fail_job[0]["onExitCodes"]
    assert on_exit["operator"] == "In"
    assert sorted(on_exit["values"]) == [3, 4]
    assert on_exit["containerName"] == container(cj)["name"]
    ignore = [r for r in rules if r["action"] == "Ignore"]
    disruption = {"type": "DisruptionTarget", "status": "True"}
    assert ignore == [{"action": "Ignore", "onPodConditions": [disruption]}]


def test_exit_codes_in_pod_failure_policy_match_the_cli_errors():
    errors = pytest.importorskip("keboola_vectorizer.errors")
    assert errors.ConfigError.exit_code == 3
    assert errors.KeboolaAuthError.exit_code == 4
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["job"]["failJobExitCodes"] == [3, 4]


def test_container_runs_index_with_json_output(chart):
    cj = cronjob(chart)
    c = container(cj)
    assert c["command"] + c["args"] == ["keboola-vectorizer", "index", "--json"]
    env = env_of(cj)
    assert env["LOG_FORMAT"]["value"] == "json"
    assert env["KBC_STORAGE_API_URL"]["value"] == "https://connection.keboola.com"
    assert env["QDRANT_URL"]["value"].startswith("http")
    assert env["QDRANT_COLLECTION"]["value"] == "keboola-metadata"
    assert env["EMBEDDING_PROVIDER"]["value"] == "local"
    assert env["HF_HUB_OFFLINE"]["value"] == "1"
    assert "KBC_PROJECTS_CONFIG" not in env
    assert "KV_SHARD_COUNT" not in env


def test_peer_urls_for_per_peer_snapshots(chart):
    env = env_of(cronjob(chart, VARIANTS["datadog-off-openai"]))
    assert env["QDRANT_PEER_URLS"]["value"] == ",".join(
        f"http://qdrant-{i}.qdrant-headless.qdrant:6333" for i in range(3))
    assert "QDRANT_PEER_URLS" not in env_of(cronjob(chart))


def test_extra_args_follow_the_index_command(chart):
    c = container(cronjob(chart, {"extraArgs": ["--rebuild"]}))
    assert c["args"] == ["index", "--json", "--rebuild"]


def test_resources_sized_for_cpu_embedding(chart):
    cj = cronjob(chart)
    resources = container(cj)["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    assert resources["limits"]["memory"] in {"2Gi", "2048Mi"}
    assert resources["limits"]["cpu"], "OMP_NUM_THREADS follows limits.cpu, so a CPU limit is needed"
    omp = env_of(cj)["OMP_NUM_THREADS"]
    assert "value" not in omp
    ref = omp["valueFrom"]["resourceFieldRef"]
    assert ref["resource"] == "limits.cpu"
    assert ref.get("containerName", container(cj)["name"]) == container(cj)["name"]


def test_security_context_non_root_read_only_with_writable_tmp_and_cache(chart):
    cj = cronjob(chart)
    pod = pod_spec(cj)
    c = container(cj)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    for mount in mounts.values():
        assert mount["name"] in volumes, f"mount {mount['name']} has no volume"
    for path in ("/tmp", "/cache"):
        assert "emptyDir" in volumes[mounts[path]["name"]], path
        assert not mounts[path].get("readOnly")
    env = env_of(cj)
    assert env["HF_HOME"]["value"].startswith("/cache/")
    assert env["XDG_CACHE_HOME"]["value"] == "/cache"


def test_datadog_agent_address_and_unified_service_tags(chart):
    cj = cronjob(chart)
    env = env_of(cj)
    assert env["DD_AGENT_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert env["DD_DOGSTATSD_PORT"]["value"] == "8125"
    labels = cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["tags.datadoghq.com/env"] == "production"
    assert labels["tags.datadoghq.com/service"] == "keboola-vectorizer"
    assert labels["tags.datadoghq.com/version"] == "0.1.0"
    for var, tag in (("DD_ENV", "env"), ("DD_SERVICE", "service"), ("DD_VERSION", "version")):
        path = env[var]["valueFrom"]["fieldRef"]["fieldPath"]
        assert path == f"metadata.labels['tags.datadoghq.com/{tag}']"
    annotations = cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]
    assert '"source":"python"' in annotations["ad.datadoghq.com/indexer.logs"]


def test_datadog_disabled_turns_dogstatsd_off(chart):
    env = env_of(cronjob(chart, {"datadog": {"enabled": False}}))
    assert env["DD_DOGSTATSD_DISABLE"]["value"] == "true"
    assert "DD_AGENT_HOST" not in env


def test_image_tag_drives_datadog_version(chart):
    cj = cronjob(chart, {"image": {"repository": "registry.example.com/kv", "tag": "1.4.2"}})
    assert container(cj)["image"] == "registry.example.com/kv:1.4.2"
    labels = cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["tags.datadoghq.com/version"] == "1.4.2"


# --- secrets ---------------------------------------------------------------------------------------


def test_secrets_are_mounted_files_and_never_env_values(chart):
    values = VARIANTS["projects"]
    objects = render(chart, values)
    kinds = by_kind(objects)
    secret = kinds["Secret"]
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == SECRET_VALUES

    # Nothing but the Secret carries a secret value, in plain text or base64.
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        text = yaml.safe_dump(obj)
        for value in SECRET_VALUES.values():
            assert value not in text, f"secret value leaked into {obj['kind']}"
            assert base64.b64encode(value.encode()).decode() not in text

    cj = kinds["CronJob"]
    env = env_of(cj)
    for name in SECRET_VALUES:
        assert name not in env, f"{name} must come from the secrets directory, not the environment"
    for item in env.values():
        assert "secretKeyRef" not in item.get("valueFrom", {})
    assert env["KV_SECRETS_DIR"]["value"] == SECRETS_DIR

    pod = pod_spec(cj)
    (mount,) = [m for m in container(cj)["volumeMounts"] if m["mountPath"] == SECRETS_DIR]
    assert mount["readOnly"] is True
    volume = {v["name"]: v for v in pod["volumes"]}[mount["name"]]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert volume["secret"]["defaultMode"] & 0o007 == 0, "secret files must not be world-readable"


def test_existing_secret_is_referenced_and_not_rendered(chart):
    objects = render(chart, VARIANTS["existing-secret"])
    kinds = by_kind(objects)
    assert "Secret" not in kinds
    cj = kinds["CronJob"]
    (volume,) = [v for v in pod_spec(cj)["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "kv-managed-elsewhere"
    text = "".join(yaml.safe_dump(obj) for obj in objects)
    for value in SECRET_VALUES.values():
        assert value not in text


def test_projects_config_comes_from_the_configmap(chart):
    kinds = by_kind(render(chart, VARIANTS["projects"]))
    configmap = kinds["ConfigMap"]
    assert yaml.safe_load(configmap["data"]["projects.yaml"]) == {"projects": PROJECTS}
    cj = kinds["CronJob"]
    config_path = env_of(cj)["KBC_PROJECTS_CONFIG"]["value"]
    (mount,) = [m for m in container(cj)["volumeMounts"] if config_path.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    volume = {v["name"]: v for v in pod_spec(cj)["volumes"]}[mount["name"]]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert config_path.rsplit("/", 1)[1] in configmap["data"]


# --- Indexed Job mode ------------------------------------------------------------------------------


def test_indexed_job_splits_projects_across_pods(chart):
    cj = cronjob(chart, VARIANTS["indexed-job"])
    job = cj["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == 2
    assert env_of(cj)["KV_SHARD_COUNT"]["value"] == "2"
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    assert [r["action"] for r in job["podFailurePolicy"]["rules"]] == ["FailJob", "Ignore"]


def test_indexed_job_parallelism_can_be_lower_than_shards(chart):
    projects = [{"url": "https://connection.keboola.com", "token_secret": f"KBC_TOKEN_{i}"} for i in range(6)]
    values = {**VARIANTS["indexed-job"], "keboola": {"projects": projects},
              "indexedJob": {"enabled": True, "shards": 6, "parallelism": 2}}
    job = cronjob(chart, values)["spec"]["jobTemplate"]["spec"]
    assert (job["completions"], job["parallelism"]) == (6, 2)


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("release, values", [
    ("r" * 53, {}),  # Helm's longest release name
    ("keboola-vectorizer-production-europe-west3-tenant-a", {}),
    ("kv", {"fullnameOverride": "x" * 70}),
    ("kv", {"nameOverride": "n" * 70}),
])
def test_names_fit_kubernetes_limits(chart, release, values):
    objects = render(chart, values, name=release)
    cj = by_kind(objects)["CronJob"]
    name = cj["metadata"]["name"]
    assert len(name) <= MAX_CRONJOB_NAME
    assert len(name) + 11 <= 63  # the controller names each Job "<cronjob>-<scheduled minute>"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    for obj in objects:
        assert len(obj["metadata"]["name"]) <= MAX_CRONJOB_NAME
        for value in obj["metadata"].get("labels", {}).values():
            assert len(value) <= 63
    pod_labels = cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert all(len(v) <= 63 for v in pod_labels.values())


def test_release_name_containing_chart_name_is_not_repeated(chart):
    assert cronjob(chart, name="keboola-vectorizer")["metadata"]["name"] == "keboola-vectorizer"
    assert cronjob(chart, name="kv")["metadata"]["name"] == "kv-keboola-vectorizer"


def test_notes_show_how_to_run_now(chart):
    notes = chart.render({}, name="kv", namespace="data")["keboola-vectorizer/templates/NOTES.txt"]
    assert "create job --from=cronjob/kv-keboola-vectorizer" in notes
    assert "docs/operations.md" in notes


# --- the chart against the indexer's own loaders --------------------------------------------------


def test_rendered_config_and_secret_files_load_in_the_indexer(chart, tmp_path, monkeypatch):
    """What the pod would see (env values, the Secret as files, the ConfigMap file) loads as intended."""
    config = pytest.importorskip("keboola_vectorizer.config")
    projects_config = pytest.importorskip("keboola_vectorizer.keboola.projects_config")
    kinds = by_kind(render(chart, VARIANTS["projects"]))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for key, value in kinds["Secret"]["data"].items():
        (secrets / key).write_bytes(base64.b64decode(value))
    config_file = tmp_path / "projects.yaml"
    config_file.write_text(kinds["ConfigMap"]["data"]["projects.yaml"])

    env = env_of(kinds["CronJob"])
    for name in list(os.environ):
        if name.startswith(("KBC_", "QDRANT_", "OPENAI_", "EMBEDDING_")):
            monkeypatch.delenv(name)
    for name, item in env.items():
        if "value" in item:
            monkeypatch.setenv(name, item["value"])
    monkeypatch.setenv("KV_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("KBC_PROJECTS_CONFIG", str(config_file))

    settings = config.load_settings()
    assert settings.qdrant_api_key.get_secret_value() == SECRET_VALUES["QDRANT_API_KEY"]
    assert settings.kbc_storage_token.get_secret_value() == SECRET_VALUES["KBC_STORAGE_TOKEN"]
    assert settings.qdrant_url == env["QDRANT_URL"]["value"]
    assert settings.log_format == "json"
    sources = projects_config.load_projects_config(settings.kbc_projects_config, config.secrets_dir())
    assert [(s.label, s.token.get_secret_value()) for s in sources] == [
        ("sales", SECRET_VALUES["KBC_TOKEN_SALES"]),
        ("marketing", SECRET_VALUES["KBC_STORAGE_TOKEN"]),
    ]


# --- deploy/qdrant-values.yaml (values for the official Qdrant chart) -----------------------------


def test_qdrant_cluster_values_take_the_api_key_from_a_secret_through_env():
    values = yaml.safe_load((CHART.parent.parent / "deploy" / "qdrant-values.yaml").read_text())
    assert values["replicaCount"] == 3
    assert values["config"]["cluster"]["enabled"] is True
    # apiKey.valueFrom renders an empty key offline (Helm lookup): the key must come through env.
    assert "apiKey" not in values
    env = {item["name"]: item for item in values["env"]}
    ref = env["QDRANT__SERVICE__API_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] and ref["key"]
    assert all("value" not in item for name, item in env.items() if "KEY" in name)
    assert values["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    anti = values["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert values["persistence"]["size"] and values["snapshotPersistence"]["enabled"] is True
    resources = values["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]

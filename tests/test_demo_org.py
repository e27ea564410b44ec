"""The generated demo organisation: deterministic, counted right, in the Storage API's shapes, and
holding every shape a real project has."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from keboola_vectorizer.demo_org import KINDS, demo_snapshot_dir, demo_summary, generate_organisation
from keboola_vectorizer.keboola.documents import project_documents
from keboola_vectorizer.keboola.lineage import iter_configurations
from keboola_vectorizer.keboola.snapshot import PROJECT_FILES, Snapshot


@pytest.fixture(scope="module")
def demo() -> Path:
    return demo_snapshot_dir()


def _components(root: Path) -> list[tuple[int, dict, dict]]:
    out = []
    for project in Snapshot(root).iter_projects():
        out.extend((project.id, component, config) for component in project.components
                   for config in component["configurations"])
    return out


def test_same_seed_writes_the_same_files_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate_organisation(tmp_path / "a", projects=3)
    second = generate_organisation(tmp_path / "b", projects=3)
    other = generate_organisation(tmp_path / "c", projects=3, seed=5)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.json"))
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert first.by_project() == second.by_project()
    assert (tmp_path / "a/3001/components.json").read_bytes() != (tmp_path / "c/3001/components.json").read_bytes()
    assert other.project_ids == first.project_ids


def test_summary_counts_are_what_documents_builds(demo: Path) -> None:
    summary = demo_summary(demo)
    counted: dict[str, Counter[str]] = {}
    for project in Snapshot(demo).iter_projects():
        counted[str(project.id)] = Counter(doc.kind for doc in project_documents(project))
    assert {pid: {k: v for k, v in c.items()} for pid, c in counted.items()} == {
        pid: {k: v for k, v in kinds.items() if v} for pid, kinds in summary.by_project().items()}
    assert summary.documents >= 1500 and len(summary.projects) >= 8
    assert all(summary.by_kind()[kind] > 0 for kind in KINDS)


def test_snapshot_layout_and_storage_api_shapes(demo: Path) -> None:
    projects = json.loads((demo / "projects.json").read_text(encoding="utf-8"))
    assert {"id", "name", "token", "stack_url"} <= set(projects[0])
    for entry in projects:
        folder = demo / str(entry["id"])
        assert all((folder / f).is_file() for f in PROJECT_FILES)
        verify = json.loads((folder / "tokens-verify.json").read_text(encoding="utf-8"))
        assert verify["owner"]["id"] == entry["id"] and verify["token"] is None
        branches = json.loads((folder / "dev-branches.json").read_text(encoding="utf-8"))
        assert sum(1 for b in branches if b["isDefault"]) == 1
        for table in json.loads((folder / "tables.json").read_text(encoding="utf-8")):
            assert table["id"] == f"{table['bucket']['id']}.{table['name']}"
            assert set(table["columnMetadata"]) <= set(table["columns"])
            for items in table["columnMetadata"].values():
                keys = {m["key"] for m in items}
                assert {"KBC.datatype.type", "KBC.datatype.basetype"} <= keys
                assert all({"id", "key", "value", "provider", "timestamp"} <= set(m) for m in items)
            if table["isTyped"]:
                assert [c["name"] for c in table["definition"]["columns"]] == table["columns"]


def test_every_real_shape_is_present(demo: Path) -> None:
    configs = _components(demo)
    component_ids = {component["id"] for _, component, _ in configs}
    assert {"keboola.flow", "keboola.orchestrator", "orchestrator", "keboola.scheduler", "keboola.variables",
            "transformation", "keboola.snowflake-transformation", "keboola.python-transformation-v2"} <= component_ids
    assert any(config["configuration"] == [] for _, _, config in configs)
    assert any(config["isDeleted"] for _, _, config in configs)
    assert any(not c.isascii() for _, _, config in configs for c in config["name"])
    flows = [config["configuration"] for _, component, config in configs if component["id"] == "keboola.flow"]
    assert any(task.get("enabled") is False for flow in flows for task in flow["tasks"])
    assert any(task["task"]["type"] == "notification" for flow in flows for task in flow["tasks"])
    assert any("condition" in step for flow in flows for phase in flow["phases"] for step in phase.get("next", []))
    legacy_rows = [row for _, component, config in configs if component["id"] == "transformation"
                   for row in config["rows"]]
    assert legacy_rows and all(row["configuration"]["queries"] for row in legacy_rows)
    scripts = [s for _, _, config in configs if isinstance(config["configuration"], dict)
               for block in config["configuration"].get("parameters", {}).get("blocks", [])
               for code in block["codes"] for s in code["script"]]
    assert max(len(s) for s in scripts) > 8000, "a long script"
    tables = [t for p in Snapshot(demo).iter_projects() for t in p.tables]
    assert any(t.get("isAlias") and t["sourceTable"]["project"]["id"] for t in tables)
    buckets = [b for p in Snapshot(demo).iter_projects() for b in p.buckets]
    assert any("sourceBucket" in b for b in buckets) and any(b.get("linkedBy") for b in buckets)
    assert any(m["key"] == "KBC.createdBy.branch.id" for t in tables for m in t["metadata"])


def test_schedulers_and_flows_point_at_configurations_that_exist(demo: Path) -> None:
    configs = _components(demo)
    known = {(pid, component["id"], config["id"]) for pid, component, config in configs}
    for pid, component, config in configs:
        if component["id"] == "keboola.scheduler":
            target = config["configuration"]["target"]
            assert (pid, target["componentId"], target["configurationId"]) in known
        if component["id"] == "keboola.flow":
            for task in config["configuration"]["tasks"]:
                if task["task"]["type"] == "job":
                    assert (pid, task["task"]["componentId"], task["task"]["configId"]) in known


def test_transformation_code_creates_every_output_from_its_inputs(demo: Path) -> None:
    for project in Snapshot(demo).iter_projects():
        table_ids = {t["id"] for t in project.tables}
        for component, config in iter_configurations(project.components):
            if component["type"] != "transformation" or component["id"] == "transformation":
                continue
            body = config["configuration"]
            code = "\n".join(s for b in body["parameters"]["blocks"] for c in b["codes"] for s in c["script"])
            for item in body["storage"]["input"]["tables"]:
                assert item["source"] in table_ids, (config["name"], item["source"])
                assert item["destination"] in code
            for item in body["storage"]["output"]["tables"]:
                assert item["destination"] in table_ids
                assert f'"{item["source"]}"' in code or f"out/tables/{item['source']}" in code


def test_any_size_for_benchmarks(tmp_path: Path) -> None:
    summary = generate_organisation(tmp_path / "big", projects=23, tables_per_project=40)
    assert len(summary.projects) == 23 and len({p.name for p in summary.projects}) == 23
    tables = [p.documents["table"] for p in summary.projects]
    assert min(tables) >= 30 and summary.documents > 23 * 40 * 4
    snapshot = Snapshot(tmp_path / "big")
    assert sum(1 for p in snapshot.iter_projects() for _ in project_documents(p)) == summary.documents


def test_sample_option_generates_the_demo_into_the_cache(tmp_path: Path) -> None:
    from tests.test_cli import assert_one_line_error, run_cli

    cache = tmp_path / "cache"
    result = run_cli("documents", "--sample", env={"KV_DEMO_ORG_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    summary = demo_summary(next(cache.iterdir()))
    assert len(rows) == summary.documents and {r["kind"] for r in rows} == set(KINDS)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no staging left behind
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    unwritable = run_cli("documents", "--sample", env={"KV_DEMO_ORG_DIR": str(blocked / "cache")})
    assert_one_line_error(unwritable, 7, "demo organisation", "KV_DEMO_ORG_DIR")

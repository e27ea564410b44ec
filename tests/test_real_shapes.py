"""Shapes the real Storage API sends (tests/fixtures/real_shapes, written for this project): legacy
orchestrations and transformations, schedulers, variables, aliases, typed tables, dev branches,
conditional flows, deleted configurations and credentials outside `#` keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from keboola_vectorizer.keboola.documents import Document, project_documents
from keboola_vectorizer.keboola.models import Component, Table
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.keboola.text import names_secret
from tests.test_cli import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "real_shapes"
P = "7101"


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    return {d.id: d for project in Snapshot(FIXTURE).iter_projects() for d in project_documents(project)}


def test_models_tolerate_loose_shapes() -> None:
    components = [Component.model_validate(c) for c in json.loads((FIXTURE / P / "components.json").read_text())]
    empty = next(c for comp in components for c in comp.configurations if c.id == "5503")
    assert empty.configuration == {} and empty.rows == []
    tables = [Table.model_validate(t) for t in json.loads((FIXTURE / P / "tables.json").read_text())]
    mirror = next(t for t in tables if t.is_alias)
    assert mirror.column_metadata == {} and mirror.source_table and mirror.source_table.project.id == "7101"
    odd = Table.model_validate({"id": "in.c-x.y", "name": None, "displayName": 7, "rowsCount": "n/a",
                                "isAlias": None, "metadata": None, "columns": None, "bucket": [],
                                "definition": {"primaryKeysNames": None, "columns": [{"name": "a", "definition": []}]}})
    assert (odd.table_name, odd.display_name, odd.rows_count, odd.is_alias) == ("y", "7", None, False)
    assert odd.bucket_id == "in.c-x" and odd.definition.column("a").type == ""
    config = Component.model_validate({"id": 5, "configurations": [
        {"id": 9, "name": None, "description": None, "isDisabled": "1", "rows": [{"id": 1, "configuration": []}]}]})
    assert config.id == "5" and config.configurations[0].is_disabled and config.configurations[0].rows[0].id == "1"


def test_legacy_orchestrator_is_a_flow_with_tasks_and_phases(docs: dict[str, Document]) -> None:
    legacy = docs[f"{P}/configuration/orchestrator/7701"]
    assert legacy.payload["component_type"] == "flow"
    assert legacy.payload["flow_tasks"] == [f"{P}/configuration/keboola.ex-ftp/5501",
                                            f"{P}/configuration/transformation/6601"]
    assert "Phase Pull: Harbour FTP drop (FTP)" in legacy.text
    assert "Phase Crunch: Fee rollup (legacy) (Transformations) (disabled)" in legacy.text
    assert "/orchestrations/7701" in legacy.payload["url"]


def test_flow_structure(docs: dict[str, Document]) -> None:
    flow = docs[f"{P}/configuration/keboola.orchestrator/7801"]
    lines = flow.text.splitlines()
    assert lines.index("Phase Pull: Harbour FTP drop (FTP)") < next(
        i for i, line in enumerate(lines) if line.startswith("Phase Crunch — Roll fees up:"))  # run order
    assert "adhoc (disabled; continues on failure; inline configuration: folder: night-drop)" in flow.text
    assert flow.payload["flow_tasks"] == [f"{P}/configuration/keboola.ex-ftp/5501",
                                          f"{P}/configuration/keboola.snowflake-transformation/6701"]
    conditional = docs[f"{P}/configuration/keboola.flow/7901"].text
    assert "Phase Pull — Fetch the FTP drop: Harbour FTP drop (FTP) (retries 4 times)" in conditional
    assert "if phase Pull status EQUALS error go to Alert; then Crunch" in conditional
    assert "notification Harbour run failed: Check the drop (by email)" in conditional


def test_scheduler_and_variables(docs: dict[str, Document]) -> None:
    schedule = docs[f"{P}/configuration/keboola.scheduler/8801"]
    assert "Schedule: runs on cron 15 2 * * * (Europe/Lisbon); enabled; target Conditional harbour flow (Flow)" \
        in schedule.text
    assert schedule.payload["schedule_target"] == f"{P}/configuration/keboola.flow/7901"
    assert "berth_rate" in docs[f"{P}/configuration/keboola.variables/8901"].text
    assert "value: 17" in docs[f"{P}/configuration_row/keboola.variables/8901/8902"].text


def test_legacy_and_new_transformations_read_alike(docs: dict[str, Document]) -> None:
    row = docs[f"{P}/configuration_row/transformation/6601/6602"]
    assert row.text.startswith("Sum berth fees: row of transformation configuration")
    assert "backend snowflake" in row.text and 'SUM("berth_fee")' in row.text
    assert row.payload["inputs"] == ["in.c-ledger.invoices"] and row.payload["outputs"] == ["out.c-reports.fee_totals"]
    legacy = docs[f"{P}/configuration/transformation/6601"].payload
    new = docs[f"{P}/configuration/keboola.snowflake-transformation/6701"].payload
    assert legacy["inputs"] == new["inputs"] and legacy["outputs"] == new["outputs"]
    totals = docs[f"{P}/table/out.c-reports.fee_totals"].payload
    assert totals["produced_by"] == [f"{P}/configuration/transformation/6601",
                                     f"{P}/configuration/keboola.snowflake-transformation/6701"]


def test_alias_typed_and_basetype_columns(docs: dict[str, Document]) -> None:
    mirror = docs[f"{P}/table/in.c-ledger.invoices_mirror"]
    assert "Alias of table in.c-ledger.invoices" in mirror.text
    assert "Berth fees invoiced per vessel call" in mirror.text and "vessel VARCHAR" in mirror.text
    assert mirror.payload["alias_of"] == "in.c-ledger.invoices"
    assert docs[f"{P}/table/in.c-ledger.invoices"].payload["aliases"] == ["in.c-ledger.invoices_mirror"]
    typed = docs[f"{P}/column/out.c-reports.fee_totals.vessel"]
    assert "Type: VARCHAR(64) (STRING)" in typed.text
    assert docs[f"{P}/table/out.c-reports.fee_totals"].payload["primary_key"] == ["vessel"]
    assert "Type: NUMERIC" in docs[f"{P}/column/in.c-ledger.invoices.berth_fee"].text


def test_dev_branch_objects_say_their_branch(docs: dict[str, Document]) -> None:
    for doc_id in (f"{P}/bucket/in.c-880-ledger", f"{P}/table/in.c-880-ledger.invoices",
                   f"{P}/column/in.c-880-ledger.invoices.invoice_no"):
        doc = docs[doc_id]
        assert doc.payload["branch_id"] == "880" and doc.payload["branch_kind"] == "dev"
        assert "Development branch tide-fix (branch id 880)" in doc.text
    assert "branch_id" not in docs[f"{P}/table/in.c-ledger.invoices"].payload


def test_deleted_configurations_make_no_document_and_change_descriptions_are_read(docs: dict[str, Document]) -> None:
    assert f"{P}/configuration/keboola.ex-ftp/5502" not in docs
    ftp = docs[f"{P}/configuration/keboola.ex-ftp/5501"]
    assert "Last change: Switched to the night drop folder" in ftp.text
    assert ftp.payload["change_description"] == "Switched to the night drop folder"


def test_credentials_stay_out_of_documents(docs: dict[str, Document]) -> None:
    blob = "\n".join(d.text + json.dumps(d.payload) for d in docs.values())
    for secret in ("plain-pass-do-not-embed", "AKIAZZZZEXAMPLE00042", "tok-do-not-embed", "ProjectSecure"):
        assert secret not in blob
    assert "host: ftp.harbour.example" in docs[f"{P}/configuration/keboola.ex-ftp/5501"].text
    assert "primary key: invoice_no" in docs[f"{P}/configuration/keboola.ex-ftp/5501"].text


@pytest.mark.parametrize(("key", "secret"), [
    ("#anything", True), ("password", True), ("accessKeyId", True), ("api_key", True), ("apiToken", True),
    ("client_secret", True), ("credentials", True), ("key", True), ("privateKey", True),
    ("primaryKey", False), ("sortKey", False), ("incremental", False), ("host", False), ("keyword", False),
])
def test_names_secret(key: str, secret: bool) -> None:
    assert names_secret(key) is secret



@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The fixture indexed through the CLI, without the transformations' output table (Storage does
    not hold it yet); returns the environment pointing at the index."""
    root = tmp_path_factory.mktemp("real-shapes")
    snapshot_dir = root / "snap"
    shutil.copytree(FIXTURE, snapshot_dir)
    tables_file = snapshot_dir / P / "tables.json"
    tables_file.write_text(json.dumps([t for t in json.loads(tables_file.read_text())
                                       if t["id"] != "out.c-reports.fee_totals"]))
    env = {"QDRANT_PATH": str(root / "qdrant")}
    result = run_cli("index", "--snapshot", str(snapshot_dir), "--json", env=env)
    assert result.returncode == 0, result.stderr
    return env


def _json(env: dict[str, str], *args: str) -> Any:
    result = run_cli(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lineage_of_unheld_table_and_metadata_producer_url(indexed: dict[str, str]) -> None:
    result = _json(indexed, "lineage", "out.c-reports.fee_totals", "--project", P)
    assert {n["id"] for n in result["upstream"] if n["kind"] == "configuration"} == {
        f"{P}/configuration/transformation/6601", f"{P}/configuration/keboola.snowflake-transformation/6701"}
    tides = _json(indexed, "lineage", "in.c-ledger.tides", "--project", P)
    producer = next(n for n in tides["upstream"] if n["id"] == f"{P}/configuration/keboola.ex-ftp/5599")
    assert producer["indexed"] is False
    assert producer["url"] == "https://connection.eu-central-1.keboola.com/admin/projects/7101/components/keboola.ex-ftp/5599"


def test_alias_lineage_links_to_its_source(indexed: dict[str, str]) -> None:
    mirror = _json(indexed, "lineage", "in.c-ledger.invoices_mirror", "--project", P)
    upstream = [n["id"] for n in mirror["upstream"]]
    assert f"{P}/table/in.c-ledger.invoices" in upstream
    source = _json(indexed, "lineage", "in.c-ledger.invoices", "--project", P)
    assert f"{P}/table/in.c-ledger.invoices_mirror" in [n["id"] for n in source["downstream"]]


def test_dev_branch_objects_only_with_branch(indexed: dict[str, str]) -> None:
    def ids(*extra: str) -> list[str]:
        return [r["id"] for r in _json(indexed, "search", "invoices ledger", "--kind", "table", "--limit", "20",
                                       *extra)]

    dev = f"{P}/table/in.c-880-ledger.invoices"
    production = ids()
    assert f"{P}/table/in.c-ledger.invoices" in production and dev not in production
    assert dev in ids("--branch", "880") and dev in ids("--branch", "tide-fix") and dev in ids("--branch", "all")
    assert dev not in ids("--branch", "999")
    found = next(r for r in _json(indexed, "search", "invoices ledger", "--branch", "880") if r["id"] == dev)
    assert (found["branch_id"], found["branch_name"]) == ("880", "tide-fix")
    status = _json(indexed, "status")
    assert status["dev_branch_points"] == 3  # bucket, table and its one column
    # A bare dev-branch table id is looked up like a search (production only) unless --branch asks;
    # a full document id or --project names it exactly.
    assert run_cli("lineage", "in.c-880-ledger.invoices", env=indexed).returncode == 3
    assert _json(indexed, "lineage", "in.c-880-ledger.invoices", "--branch", "880")["root"]["id"] == dev
    assert _json(indexed, "lineage", dev)["root"]["id"] == dev


def test_extract_does_not_count_deleted_configurations(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from keboola_vectorizer.keboola.extract import extract_snapshot
    from keboola_vectorizer.keboola.projects_config import ProjectSource
    from tests.fakes.storage_api import FakeStorageApi

    served = tmp_path / "served"
    shutil.copytree(FIXTURE, served)
    projects = json.loads((served / "projects.json").read_text())
    projects[0]["token"] = "7101-fixture-token-for-the-fake-api"
    (served / "projects.json").write_text(json.dumps(projects))
    with FakeStorageApi(served) as api:
        result = extract_snapshot([ProjectSource(url=api.url, token=SecretStr(projects[0]["token"]))],
                                  tmp_path / "snap", timeout_s=2.0, deadline_s=10.0)
    summary = result.to_json()
    configurations = json.loads((FIXTURE / P / "components.json").read_text())
    live = [c for comp in configurations for c in comp["configurations"] if not c.get("isDeleted")]
    assert summary["projects"][P]["configurations"] == len(live) == 9
    extracted = {d.id for p in Snapshot(tmp_path / "snap").iter_projects() for d in project_documents(p)}
    assert sum(1 for d in extracted if "/configuration/" in d) == len(live)


def test_phase_and_task_ids_are_separate_namespaces() -> None:
    from keboola_vectorizer.keboola.flows import flow_text, read_flow

    body = {"phases": [{"id": "1", "name": "Load", "next": [{"goto": "2", "condition": {
                "type": "operator", "operator": "EQUALS",
                "operands": [{"type": "task", "task": "1", "value": "status"}, {"type": "const", "value": "ok"}]}}]},
                       {"id": "2", "name": "Publish", "dependsOn": ["1"]}],
            "tasks": [{"id": "1", "name": "Fetch quay list", "phase": "1", "task": {"componentId": "x"}},
                      {"id": "2", "name": "Post board", "phase": "2", "task": {"componentId": "y"}}]}
    text = flow_text(read_flow(body), {}, 7101)
    assert "if task Fetch quay list status EQUALS ok go to Publish" in text
    assert "Phase Publish: Post board; after Load" in text

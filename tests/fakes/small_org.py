"""A small organisation written from scratch for watch tests and the watch benchmark.

Each project: one input bucket with two tables, one output bucket with one table, one transformation
reading an input table and writing the output table (so lineage ties them). About 20 documents a project:
indexing stays quick, and every edit the fake can make has something to act on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STAMP = "2026-05-04T10:00:00+0000"
TRANSFORMATION = "keboola.snowflake-transformation"


def _bucket(bucket_id: str, description: str) -> dict[str, Any]:
    stage, _, name = bucket_id.partition(".")
    return {"id": bucket_id, "name": name, "displayName": name.removeprefix("c-"), "stage": stage,
            "description": description, "created": STAMP, "lastChangeDate": STAMP, "backend": "snowflake",
            "metadata": [], "attributes": []}


def _table(bucket: dict[str, Any], name: str, columns: list[str], description: str) -> dict[str, Any]:
    return {"id": f"{bucket['id']}.{name}", "name": name, "displayName": name, "primaryKey": columns[:1],
            "created": STAMP, "lastImportDate": STAMP, "lastChangeDate": STAMP, "rowsCount": 1200,
            "dataSizeBytes": 76800, "isAlias": False, "columns": columns, "attributes": [],
            "metadata": [{"id": "1", "key": "KBC.description", "value": description, "provider": "user",
                          "timestamp": STAMP}],
            "columnMetadata": {},
            "bucket": {k: bucket.get(k) for k in ("id", "name", "displayName", "stage", "description")}}


def project_files(project_id: int, name: str, *, master: bool = True) -> dict[str, Any]:
    raw = _bucket(f"in.c-shop-{project_id}", "Orders and customers exported from the web shop")
    out = _bucket(f"out.c-sales-{project_id}", "Daily sales figures for reporting")
    verify: dict[str, Any] = {"id": f"{project_id}01", "description": "watch@example.com",
                              "isMasterToken": master, "canManageBuckets": master, "isExpired": False,
                              "isDisabled": False, "owner": {"id": project_id, "name": name}}
    if master:
        verify["admin"] = {"id": 7, "name": "Watcher", "role": "admin"}
    transformation = {
        "id": f"{project_id}7", "name": "Daily sales", "description": "Sums order amounts per day",
        "created": STAMP, "version": 3, "isDisabled": False, "isDeleted": False, "changeDescription": "",
        "configuration": {
            "storage": {"input": {"tables": [{"source": raw["id"] + ".orders", "destination": "orders"}]},
                        "output": {"tables": [{"source": "daily", "destination": out["id"] + ".daily"}]}},
            "parameters": {"blocks": [{"name": "main", "codes": [{"name": "sum", "script": [
                'CREATE TABLE "daily" AS SELECT "order_date", SUM("amount") AS "amount" '
                'FROM "orders" GROUP BY 1;']}]}]},
        },
        "rows": [], "rowsSortOrder": [], "state": {},
    }
    return {
        "tokens-verify": verify,
        "dev-branches": [{"id": project_id * 10, "name": "Main", "isDefault": True}],
        "buckets": [raw, out],
        "tables": [
            _table(raw, "orders", ["order_id", "customer_id", "order_date", "amount"], "One row per web order"),
            _table(raw, "customers", ["customer_id", "email", "country"], "Registered shop customers"),
            _table(out, "daily", ["order_date", "amount"], "Order amount per day"),
        ],
        "components": [{"id": TRANSFORMATION, "type": "transformation", "name": "Snowflake SQL",
                        "configurations": [transformation]}],
    }


def write_small_org(root: Path, projects: dict[int, str] | None = None, *,
                    non_master: tuple[int, ...] = ()) -> Path:
    """Write `projects` ({id: name}) under `root` in the snapshot layout, tokens included for the fake."""
    projects = projects or {9101: "Web shop"}
    root.mkdir(parents=True, exist_ok=True)
    listed = []
    for project_id, name in projects.items():
        folder = root / str(project_id)
        folder.mkdir(exist_ok=True)
        for stem, data in project_files(project_id, name, master=project_id not in non_master).items():
            (folder / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        listed.append({"id": project_id, "name": name, "token": f"{project_id}-watch-token",
                       "stack_url": "https://connection.keboola.com"})
    (root / "projects.json").write_text(json.dumps(listed, indent=1) + "\n", encoding="utf-8")
    return root

"""A small organisation written for the engine and MCP tests: two projects, a lineage chain, a
transformation with code, a wide table (for column paging) and one planted secret.

Written as a snapshot directory in the Storage API's shapes (the layout `index --snapshot` reads),
so the tests index it through the real pipeline. Names are invented here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BAKERY, WEATHER = 701, 702
PLANTED_SECRET = "mini-org-planted-secret-7fa93c1d"  # a parameter marked secret; must never be shown
WIDE_COLUMNS = [f"sensor_{i:02d}_reading" for i in range(60)]

# The question the tests ask, and the document that answers it.
REVENUE_QUESTION = "how much money did each shop take per day"
REVENUE_TABLE = f"{BAKERY}/table/out.c-sales.daily_revenue"
TRANSFORMATION = f"{BAKERY}/configuration/keboola.snowflake-transformation/5001"


def _bucket(bucket_id: str, description: str) -> dict[str, Any]:
    stage, name = bucket_id.split(".", 1)
    return {"id": bucket_id, "name": name, "displayName": name.removeprefix("c-"), "stage": stage,
            "description": description, "created": "2026-05-01T08:00:00+0000",
            "lastChangeDate": "2026-06-01T08:00:00+0000", "metadata": []}


def _table(table_id: str, columns: list[str], description: str, types: dict[str, str] | None = None,
           primary_key: list[str] | None = None) -> dict[str, Any]:
    bucket_id, name = table_id.rsplit(".", 1)
    column_meta = {c: [{"key": "KBC.datatype.basetype", "value": t, "provider": "user"}]
                   for c, t in (types or {}).items()}
    return {"id": table_id, "name": name, "displayName": name, "columns": columns,
            "primaryKey": primary_key or [], "rowsCount": 1200, "dataSizeBytes": 40960,
            "lastImportDate": "2026-06-02T06:00:00+0000", "lastChangeDate": "2026-06-02T06:00:00+0000",
            "metadata": [{"key": "KBC.description", "value": description, "provider": "user"}],
            "columnMetadata": column_meta,
            "bucket": {"id": bucket_id, "stage": bucket_id.split(".", 1)[0], "name": bucket_id.split(".", 1)[1]}}


def _mapping(inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {"storage": {
        "input": {"tables": [{"source": t, "destination": t.rsplit(".", 1)[1]} for t in inputs]},
        "output": {"tables": [{"source": t.rsplit(".", 1)[1], "destination": t} for t in outputs]},
    }}


def _config(config_id: str, name: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": config_id, "name": name, "description": description, "created": "2026-05-03T10:00:00+0000",
            "isDisabled": False, "isDeleted": False, "version": 3, "configuration": body, "rows": []}


def _bakery() -> dict[str, Any]:
    sql = ("CREATE TABLE daily_revenue AS\nSELECT CAST(sold_at AS DATE) AS day, store_code,\n"
           "  SUM(total_amount_czk) AS revenue_czk\nFROM receipts JOIN stores USING (store_code)\n"
           "GROUP BY 1, 2;\n" + "-- padding line for a long script\n" * 120)
    buckets = [_bucket("in.c-pos", "Raw receipts from the shop tills"),
               _bucket("out.c-sales", "Sales figures for reporting")]
    tables = [
        _table("in.c-pos.receipts", ["receipt_id", "store_code", "sold_at", "total_amount_czk"],
               "One row per till receipt: when it was sold, which shop, the amount paid",
               {"receipt_id": "STRING", "sold_at": "TIMESTAMP", "total_amount_czk": "NUMERIC"}, ["receipt_id"]),
        _table("in.c-pos.stores", ["store_code", "city", "opened_on"], "The bakery shops and their cities"),
        _table("out.c-sales.daily_revenue", ["day", "store_code", "revenue_czk"],
               "Takings of every shop per calendar day in Czech crowns", {"revenue_czk": "NUMERIC"}),
        _table("in.c-pos.oven_telemetry", WIDE_COLUMNS, "Oven sensor readings, one column per sensor"),
    ]
    components = [
        {"id": "keboola.ex-db-mysql", "type": "extractor", "name": "MySQL", "configurations": [
            _config("4001", "Till database", "Loads the receipts from the till database", {
                **_mapping([], ["in.c-pos.receipts", "in.c-pos.stores"]),
                "parameters": {"db": {"host": "till-db.internal", "#password": PLANTED_SECRET}}})]},
        {"id": "keboola.snowflake-transformation", "type": "transformation", "name": "Snowflake Transformation",
         "configurations": [_config("5001", "Daily revenue per shop", "Sums receipts into shop takings per day", {
             **_mapping(["in.c-pos.receipts", "in.c-pos.stores"], ["out.c-sales.daily_revenue"]),
             "parameters": {"blocks": [{"name": "Revenue", "codes": [{"name": "Sum per day", "script": [sql]}]}]}})]},
        {"id": "keboola.wr-google-sheets", "type": "writer", "name": "Google Sheets", "configurations": [
            _config("6001", "Revenue sheet for the owners", "Publishes daily takings to a spreadsheet",
                    _mapping(["out.c-sales.daily_revenue"], []))]},
    ]
    return {"buckets": buckets, "tables": tables, "components": components}


def _weather() -> dict[str, Any]:
    return {
        "buckets": [_bucket("in.c-meteo", "Weather station measurements")],
        "tables": [_table("in.c-meteo.observations", ["station", "measured_at", "temperature_c", "rainfall_mm"],
                          "Hourly temperature and rainfall per weather station")],
        "components": [],
    }


def write_mini_org(target: Path, *, extra_table: str | None = None) -> Path:
    """Write the organisation to `target`; `extra_table` adds one more table to the weather project
    (a change an index run then picks up)."""
    projects = [(BAKERY, "Corner Bakery", _bakery()), (WEATHER, "Weather Lab", _weather())]
    target.mkdir(parents=True, exist_ok=True)
    entries = []
    for project_id, name, data in projects:
        if extra_table and project_id == WEATHER:
            data["tables"].append(_table(extra_table, ["station", "wind_speed_ms"], "Wind speed per station"))
        folder = target / str(project_id)
        folder.mkdir(exist_ok=True)
        files = {"buckets.json": data["buckets"], "tables.json": data["tables"],
                 "components.json": data["components"],
                 "tokens-verify.json": {"id": "1", "owner": {"id": project_id, "name": name}},
                 "dev-branches.json": [{"id": project_id * 10, "name": "Main", "isDefault": True}]}
        for file_name, content in files.items():
            (folder / file_name).write_text(json.dumps(content, indent=1))
        entries.append({"id": project_id, "name": name, "stack_url": "https://connection.keboola.com"})
    (target / "projects.json").write_text(json.dumps(entries, indent=1))
    return target

"""Components and configurations in the shape `GET branch/default/components?include=configuration,rows`
returns: extractors (with `#` encrypted values), Snowflake and Python transformations, writers,
rows, and the wrappers every configuration carries (versions, creator token, state)."""

from __future__ import annotations

from typing import Any

from keboola_vectorizer.demo_org.stamps import Stamps

COMPONENT_TYPES = {"extractor", "writer", "transformation", "application", "other"}
SNOWFLAKE = ("keboola.snowflake-transformation", "Snowflake SQL")
PYTHON = ("keboola.python-transformation-v2", "Python")


def component(component_id: str, name: str, kind: str, description: str = "") -> dict[str, Any]:
    assert kind in COMPONENT_TYPES, kind
    return {"id": component_id, "type": kind, "name": name, "description": description, "longDescription": "",
            "version": 1, "uri": f"https://syrup.keboola.com/docker/{component_id}", "documentationUrl": "",
            "configurations": []}


def configuration(stamps: Stamps, config_id: str, name: str, body: Any, *, description: str = "",
                  creator: str, rows: list[dict[str, Any]] | None = None, disabled: bool = False,
                  deleted: bool = False) -> dict[str, Any]:
    created = stamps.time()
    token = {"id": stamps.rng.randrange(100_000, 999_999), "description": creator}
    version = stamps.rng.randrange(1, 40)
    change = "Configuration created" if version == 1 else stamps.rng.choice(
        ("Updated from UI", "Change input mapping", "Code edited", "Row added", "Parameters updated"))
    return {"id": config_id, "name": name, "description": description, "created": created,
            "creatorToken": token, "version": version, "changeDescription": change, "isDisabled": disabled,
            "isDeleted": deleted, "configuration": body, "rowsSortOrder": [r["id"] for r in rows or []],
            "rows": rows or [], "state": {},
            "currentVersion": {"created": stamps.time(), "creatorToken": token, "changeDescription": change}}


def row(stamps: Stamps, name: str, body: dict[str, Any], *, description: str = "",
        disabled: bool = False) -> dict[str, Any]:
    return {"id": stamps.row_id(name), "name": name, "description": description, "isDisabled": disabled,
            "version": stamps.rng.randrange(1, 12), "created": stamps.time(), "configuration": body, "state": {},
            "changeDescription": ""}


def input_mapping(tables: list[tuple[str, str]]) -> dict[str, Any]:
    """(table id, name inside the job) pairs -> `storage.input.tables`."""
    return {"tables": [{"source": table_id, "destination": name, "columns": [], "where_column": "", "where_values": [],
                        "where_operator": "eq"} for table_id, name in tables]}


def output_mapping(tables: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    """(name inside the job, table id, primary key) triples -> `storage.output.tables`."""
    return {"tables": [{"source": name, "destination": table_id, "primary_key": pk, "incremental": False}
                       for name, table_id, pk in tables]}


def transformation_body(blocks: list[tuple[str, list[tuple[str, list[str]]]]], inputs: list[tuple[str, str]],
                        outputs: list[tuple[str, str, list[str]]], *, packages: list[str] | None = None,
                        variables: tuple[str, str] | None = None) -> dict[str, Any]:
    """`parameters.blocks[].codes[].script[]` plus input and output mappings."""
    parameters: dict[str, Any] = {"blocks": [
        {"name": block, "codes": [{"name": code, "script": script} for code, script in codes]}
        for block, codes in blocks]}
    if packages:
        parameters["packages"] = packages
    body: dict[str, Any] = {"parameters": parameters,
                            "storage": {"input": input_mapping(inputs), "output": output_mapping(outputs)}}
    if variables:
        body["variables_id"], body["variables_values_id"] = variables
    return body


def writer_body(tables: list[tuple[str, str, list[str]]], parameters: dict[str, Any]) -> dict[str, Any]:
    """A database-style writer: which tables go where, plus the connection (secrets `#`-encrypted)."""
    items = [{"tableId": table_id, "dbName": name.upper() if "db" in parameters else name, "export": True,
              "incremental": False, "primaryKey": [],
              "items": [{"name": c, "dbName": c, "type": "varchar", "nullable": True} for c in columns]}
             for table_id, name, columns in tables]
    return {"parameters": {**parameters, "tables": items},
            "storage": {"input": input_mapping([(table_id, f"{name}.csv") for table_id, name, _ in tables])}}

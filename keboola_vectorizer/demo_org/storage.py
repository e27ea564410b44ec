"""Bucket and table objects in the exact shape `GET buckets?include=metadata` and
`GET tables?include=columns,buckets,metadata,columnMetadata` return them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.demo_org.stamps import Stamps

# Snowflake column types per Keboola base type (what typed tables and datatype metadata carry).
SNOWFLAKE_TYPES = {"STRING": ("VARCHAR", "16777216"), "INTEGER": ("NUMBER", "38,0"), "NUMERIC": ("NUMBER", "38,2"),
                   "FLOAT": ("FLOAT", ""), "BOOLEAN": ("BOOLEAN", ""), "DATE": ("DATE", ""),
                   "TIMESTAMP": ("TIMESTAMP_NTZ", "")}


@dataclass
class Column:
    key: str  # the vocabulary's snake_case name (transformations resolve columns by it)
    name: str  # as the table spells it
    basetype: str


@dataclass
class BuiltTable:
    key: str  # the vocabulary's table name
    id: str
    name: str
    columns: list[Column]
    body: dict[str, Any] = field(default_factory=dict)

    def column(self, key: str) -> Column | None:
        key = key.lower()
        return next((c for c in self.columns if c.key == key or c.name.lower() == key), None)


def metadata(stamps: Stamps, key: str, value: str, provider: str) -> dict[str, Any]:
    return {"id": stamps.metadata_id(), "key": key, "value": value, "provider": provider,
            "timestamp": stamps.time()}


def bucket(stack_url: str, stamps: Stamps, stage: str, name: str, *, description: str = "",
           display: str = "", branch_id: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    bucket_id = f"{stage}.c-{name}"
    size = stamps.rng.randrange(10_000, 900_000_000)
    body: dict[str, Any] = {
        "uri": f"{stack_url}/v2/storage/buckets/{bucket_id}", "id": bucket_id, "name": f"c-{name}",
        "displayName": display or name, "idBranch": branch_id, "stage": stage, "description": description,
        "tables": f"{stack_url}/v2/storage/buckets/{bucket_id}/tables", "created": stamps.time(),
        "lastChangeDate": stamps.time(), "updated": None, "isReadOnly": False, "dataSizeBytes": size,
        "rowsCount": size // 80, "isMaintenance": False, "backend": "snowflake", "sharing": None,
        "hasExternalSchema": False, "databaseName": "", "path": bucket_id, "isSnowflakeSharedDatabase": False,
        "color": None, "owner": None, "attributes": [],
        "metadata": [metadata(stamps, "KBC.description", description, "user")] if description else [],
    }
    body.update(extra or {})
    return body


def nested_bucket(body: dict[str, Any]) -> dict[str, Any]:
    """The bucket as a table listing nests it (no metadata, no attributes)."""
    return {k: v for k, v in body.items() if k not in {"metadata", "attributes", "linkedBy"}}


def table(stack_url: str, stamps: Stamps, bucket_body: dict[str, Any], key: str, name: str,
          columns: list[Column], *, primary_key: list[str], provider: str, description: str = "",
          notes: dict[str, str] | None = None, typed: bool = False,
          updated_by: tuple[str, str] | None = None, extra_metadata: list[tuple[str, str]] = ()
          ) -> BuiltTable:
    """A table with KBC.datatype.* column metadata, descriptions on the columns `notes` names, and
    `KBC.lastUpdatedBy.*` when a configuration writes it (that is how Storage records lineage)."""
    table_id = f"{bucket_body['id']}.{name}"
    rows = stamps.rng.randrange(50, 5_000_000)
    table_metadata = [metadata(stamps, "KBC.description", description, "user")] if description else []
    if updated_by:
        table_metadata += [metadata(stamps, "KBC.lastUpdatedBy.component.id", updated_by[0], "system"),
                           metadata(stamps, "KBC.lastUpdatedBy.configuration.id", updated_by[1], "system")]
    table_metadata += [metadata(stamps, k, v, "system") for k, v in extra_metadata]
    column_metadata: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        sql_type, length = SNOWFLAKE_TYPES[column.basetype]
        nullable = "0" if column.name in primary_key else "1"
        items = [metadata(stamps, "KBC.datatype.type", sql_type, provider),
                 metadata(stamps, "KBC.datatype.nullable", nullable, provider),
                 metadata(stamps, "KBC.datatype.basetype", column.basetype, provider)]
        if length:
            items.append(metadata(stamps, "KBC.datatype.length", length, provider))
        note = (notes or {}).get(column.key)
        if note:
            items.append(metadata(stamps, "KBC.description", note, "user"))
        column_metadata[column.name] = items
    imported = stamps.time()
    body: dict[str, Any] = {
        "uri": f"{stack_url}/v2/storage/tables/{table_id}", "id": table_id, "name": name, "displayName": name,
        "transactional": False, "primaryKey": primary_key, "indexType": None, "indexKey": [],
        "distributionType": None, "distributionKey": [], "syntheticPrimaryKeyEnabled": False,
        "created": stamps.time(), "lastImportDate": imported, "lastChangeDate": imported, "rowsCount": rows,
        "dataSizeBytes": rows * stamps.rng.randrange(40, 400), "isAlias": False, "isAliasable": True,
        "isTyped": typed, "tableType": "table", "path": f"/{table_id}", "columns": [c.name for c in columns],
        "attributes": [], "metadata": table_metadata, "columnMetadata": column_metadata,
        "bucket": nested_bucket(bucket_body),
    }
    if typed:
        body["definition"] = {
            "primaryKeysNames": primary_key,
            "columns": [{"name": c.name, "definition": _definition(c, primary_key), "basetype": c.basetype,
                         "canBeFiltered": True} for c in columns],
        }
    return BuiltTable(key, table_id, name, columns, body)


def _definition(column: Column, primary_key: list[str]) -> dict[str, Any]:
    sql_type, length = SNOWFLAKE_TYPES[column.basetype]
    out: dict[str, Any] = {"type": sql_type, "nullable": column.name not in primary_key}
    if length:
        out["length"] = length
    return out


def alias(stack_url: str, stamps: Stamps, bucket_body: dict[str, Any], source: BuiltTable, name: str,
          source_project: dict[str, Any] | None = None) -> BuiltTable:
    """An alias table: the source's columns, `isAlias`, and `sourceTable` pointing at the original
    (in another project when the alias lives in a linked bucket)."""
    table_id = f"{bucket_body['id']}.{name}"
    body = {**source.body, "uri": f"{stack_url}/v2/storage/tables/{table_id}", "id": table_id, "name": name,
            "displayName": name, "path": f"/{table_id}", "isAlias": True, "isAliasable": False,
            "aliasColumnsAutoSync": True, "created": stamps.time(), "bucket": nested_bucket(bucket_body),
            "sourceTable": {"id": source.id, "uri": source.body["uri"],
                            "project": source_project or {"id": None, "name": None}},
            "metadata": []}
    return BuiltTable(source.key, table_id, name, source.columns, body)

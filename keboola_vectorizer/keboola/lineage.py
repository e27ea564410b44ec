"""Table lineage from configurations' input/output mappings and tables' lastUpdatedBy metadata.

A table is produced by the configurations whose output mapping writes it (or whose id the table's
`KBC.lastUpdatedBy.*` metadata names) and consumed by those whose input mapping reads it.
Configuration rows count for their parent configuration, so lineage is at configuration level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer import ids


def configuration_doc_id(project_id: int, component_id: str, config_id: str) -> str:
    return ids.configuration_id(project_id, component_id, config_id)


def _tables(mapping: Any, direction: str) -> list[dict[str, Any]]:
    """Mapping entries of one direction: `storage.<direction>.tables`, or the top-level
    `input` / `output` lists of a legacy transformation row (same `source`/`destination` keys)."""
    if not isinstance(mapping, dict):
        return []
    storage = mapping.get("storage")
    side = storage.get(direction) if isinstance(storage, dict) else None
    tables = side.get("tables") if isinstance(side, dict) else None
    if not isinstance(tables, list):
        tables = mapping.get(direction)
    return [t for t in tables if isinstance(t, dict)] if isinstance(tables, list) else []


def mapping_inputs(configuration: Any) -> list[str]:
    """Table ids an input mapping reads."""
    return [str(t["source"]) for t in _tables(configuration, "input") if t.get("source")]


def mapping_outputs(configuration: Any) -> list[str]:
    """Table ids an output mapping writes."""
    return [str(t["destination"]) for t in _tables(configuration, "output") if t.get("destination")]


def mapping_output_pairs(configuration: Any) -> list[tuple[str, str]]:
    """(source, destination) of each output mapping: the table name inside the job, the table id it lands in."""
    return [(str(t.get("source") or ""), str(t["destination"]))
            for t in _tables(configuration, "output") if t.get("destination")]


def default_bucket(component_id: str, config_id: str) -> str:
    """The bucket a component writes to without an output mapping."""
    return f"in.c-{component_id.replace('.', '-')}-{config_id}"


def iter_configurations(components: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for component in components:
        for configuration in component.get("configurations") or []:
            if isinstance(configuration, dict) and not configuration.get("isDeleted"):
                yield component, configuration


@dataclass
class Lineage:
    produced_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    consumed_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    inputs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    outputs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # alias table id -> the table it mirrors; source table id -> its aliases (same project only)
    alias_of: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def _link(self, index: dict[str, list[str]], key: str, value: str) -> None:
        if value not in index[key]:
            index[key].append(value)

    def add_reads(self, config_doc: str, table_id: str) -> None:
        self._link(self.consumed_by, table_id, config_doc)
        self._link(self.inputs, config_doc, table_id)

    def add_writes(self, config_doc: str, table_id: str) -> None:
        self._link(self.produced_by, table_id, config_doc)
        self._link(self.outputs, config_doc, table_id)


def build_lineage(project_id: int, components: list[dict[str, Any]],
                  tables: list[dict[str, Any]]) -> Lineage:
    lineage = Lineage()
    for component, configuration in iter_configurations(components):
        doc = configuration_doc_id(project_id, str(component.get("id")), str(configuration.get("id")))
        holders = [configuration.get("configuration")]
        holders += [row.get("configuration") for row in configuration.get("rows") or []
                    if isinstance(row, dict) and not row.get("isDisabled")]
        for holder in holders:
            for table_id in mapping_inputs(holder):
                lineage.add_reads(doc, table_id)
            for table_id in mapping_outputs(holder):
                lineage.add_writes(doc, table_id)
    # Extractors without an output mapping write to their default bucket, named after the component
    # and configuration (`in.c-keboola-ex-google-ads-595284277`): a table read from such a bucket
    # with no other known producer comes from that configuration.
    default_buckets = {default_bucket(str(component.get("id")), str(configuration.get("id"))):
                       configuration_doc_id(project_id, str(component.get("id")), str(configuration.get("id")))
                       for component, configuration in iter_configurations(components)}
    known_tables = [*lineage.consumed_by.keys(), *(str(t.get("id")) for t in tables if t.get("id"))]
    for table_id in dict.fromkeys(known_tables):
        producer = default_buckets.get(table_id.rsplit(".", 1)[0])
        if producer and not lineage.produced_by.get(table_id):
            lineage.add_writes(producer, table_id)
    for table in tables:
        source = table.get("sourceTable")
        if table.get("isAlias") and isinstance(source, dict) and source.get("id"):
            lineage.alias_of[str(table["id"])] = str(source["id"])
            lineage.aliases[str(source["id"])].append(str(table["id"]))
        metadata = {m.get("key"): m.get("value") for m in table.get("metadata") or [] if isinstance(m, dict)}
        component_id = metadata.get("KBC.lastUpdatedBy.component.id")
        config_id = metadata.get("KBC.lastUpdatedBy.configuration.id")
        if component_id and config_id:
            lineage.add_writes(configuration_doc_id(project_id, str(component_id), str(config_id)),
                               str(table["id"]))
    return lineage

"""The shapes the vocabulary is written in: what a domain's sources, transformations and writers are.

Columns are written compactly as `name:T` with T one of S I N F B D T (string, integer, numeric,
float, boolean, date, timestamp) and `*` marking the primary key, so a domain reads like a data
model rather than a JSON dump. Names are snake_case; naming.render gives each source its style.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from keboola_vectorizer.demo_org.naming import Style

BASETYPES = {"S": "STRING", "I": "INTEGER", "N": "NUMERIC", "F": "FLOAT", "B": "BOOLEAN", "D": "DATE",
             "T": "TIMESTAMP"}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    basetype: str
    primary_key: bool = False


def parse_columns(text: str) -> tuple[ColumnSpec, ...]:
    """`"id:I* email:S"` -> (ColumnSpec("id", "INTEGER", True), ColumnSpec("email", "STRING"))."""
    columns = []
    for item in text.split():
        name, _, code = item.partition(":")
        columns.append(ColumnSpec(name, BASETYPES[code.rstrip("*")], code.endswith("*")))
    return tuple(columns)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: str
    description: str = ""
    notes: dict[str, str] = field(default_factory=dict)  # column descriptions (some columns only)

    @property
    def parsed(self) -> tuple[ColumnSpec, ...]:
        return parse_columns(self.columns)


@dataclass(frozen=True)
class SourceSpec:
    """One extractor configuration and the tables it lands in one input bucket."""

    component_id: str
    component_name: str
    config_name: str
    tables: tuple[TableSpec, ...]
    style: Style = "snake"
    bucket: str = ""  # "" = the component's default bucket (in.c-<component>-<config id>)
    prefix: str = ""  # vendor prefix on table names (`sf_`, `gads_`)
    description: str = ""
    bucket_description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    rows: Literal["none", "per_table"] = "none"
    row_parameters: str = "table"  # how a row names its object: "table", "query" (SQL), "endpoint"


@dataclass(frozen=True)
class TransformSpec:
    """Output = inputs joined `on` (left=right), grouped by `keys`, with `measures` (agg, column).

    Key and measure columns are `column` (first input that has it) or `table.column`. `inputs` name
    tables of this domain, earlier outputs, or `domain:table` for a table shared by another project.
    """

    name: str
    output: str
    inputs: tuple[str, ...]
    keys: tuple[str, ...]
    measures: tuple[tuple[str, ...], ...]  # (agg, column[, output name])
    on: str = ""
    where: tuple[str, str] = ("", "")  # (column, literal) kept in the WHERE clause
    language: Literal["sql", "python"] = "sql"
    description: str = ""
    comment: str = ""
    output_description: str = ""


@dataclass(frozen=True)
class WriterSpec:
    component_id: str
    component_name: str
    config_name: str
    inputs: tuple[str, ...]
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainSpec:
    key: str
    project_name: str
    sources: tuple[SourceSpec, ...]
    transformations: tuple[TransformSpec, ...]
    writers: tuple[WriterSpec, ...] = ()
    output_bucket: str = "reporting"
    output_style: Style = "snake"
    output_bucket_description: str = ""
    flow_name: str = "Daily pipeline"
    cron: str = "0 5 * * *"
    shared: bool = False  # the output bucket is shared with the organisation (others link it)
    features: frozenset[str] = frozenset()  # extra shapes this project shows (see project.py)

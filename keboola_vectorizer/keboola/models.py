"""Pydantic models of the Storage API objects the documents read, tolerant of what the API sends.

The real API is loose: an empty configuration body is `[]` rather than `{}`, an empty column
metadata map is `[]`, owner and project ids come as numbers or strings, names are missing on
objects made by old tools, and legacy objects carry keys modern ones do not. Every model ignores
what it does not name (the raw JSON stays in the snapshot), coerces ids to strings and turns the
empty-list shapes into empty objects, so the document builders read fields instead of `.get()`
chains and never crash on a shape they have not met.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


def _object(value: Any) -> dict[str, Any]:
    """`[]`, null or anything not a JSON object reads as an empty object."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              coerce_numbers_to_str=True, frozen=False)


class MetadataItem(ApiModel):
    key: str = ""
    value: str = ""
    provider: str = ""

    @field_validator("value", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)


def metadata_map(items: list[MetadataItem]) -> dict[str, str]:
    """key -> value; a later entry wins (the API lists them oldest first)."""
    return {item.key: item.value for item in items if item.key}


class _WithMetadata(ApiModel):
    metadata: list[MetadataItem] = Field(default_factory=list)

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_list(cls, value: Any) -> list[dict[str, Any]]:
        return _objects(value)

    @property
    def meta(self) -> dict[str, str]:
        return metadata_map(self.metadata)


class ProjectRef(ApiModel):
    id: str = ""
    name: str = ""


class ColumnDefinition(ApiModel):
    """One column of a typed table's `definition` (`{"name", "definition": {"type", ...}, "basetype"}`)."""

    name: str = ""
    definition: dict[str, Any] = Field(default_factory=dict)
    basetype: str = ""

    _definition = field_validator("definition", mode="before")(lambda cls, v: _object(v))

    @property
    def type(self) -> str:
        return str(self.definition.get("type") or "")

    @property
    def nullable(self) -> bool | None:
        value = self.definition.get("nullable")
        return value if isinstance(value, bool) else None

    @property
    def length(self) -> str:
        value = self.definition.get("length")
        return "" if value in (None, "") else str(value)


class TableDefinition(ApiModel):
    primary_keys_names: list[str] = Field(default_factory=list)
    columns: list[ColumnDefinition] = Field(default_factory=list)

    _columns = field_validator("columns", mode="before")(lambda cls, v: _objects(v))

    def column(self, name: str) -> ColumnDefinition | None:
        return next((c for c in self.columns if c.name == name), None)


class _TableColumns(_WithMetadata):
    column_metadata: dict[str, list[MetadataItem]] = Field(default_factory=dict)
    definition: TableDefinition | None = None

    @field_validator("column_metadata", mode="before")
    @classmethod
    def _column_metadata(cls, value: Any) -> dict[str, list[dict[str, Any]]]:
        return {str(k): _objects(v) for k, v in _object(value).items()}

    @field_validator("definition", mode="before")
    @classmethod
    def _definition(cls, value: Any) -> dict[str, Any] | None:
        return value if isinstance(value, dict) else None

    def column_meta(self, column: str) -> dict[str, str]:
        return metadata_map(self.column_metadata.get(column, []))


class SourceTable(_TableColumns):
    """What an alias table's `sourceTable` says of the table it mirrors (possibly in another project)."""

    id: str = ""
    project: ProjectRef | None = None
    is_alias: bool = False


class BucketRef(ApiModel):
    id: str = ""
    name: str = ""
    display_name: str = ""
    stage: str = ""
    description: str | None = None


class Bucket(_WithMetadata):
    id: str
    name: str = ""
    display_name: str = ""
    stage: str = ""
    description: str | None = None
    id_branch: str = ""
    created: str | None = None
    last_change_date: str | None = None

    @property
    def label(self) -> str:
        return self.display_name or self.name or self.id

    @property
    def stage_name(self) -> str:
        return self.stage or self.id.split(".", 1)[0]


class Table(_TableColumns):
    id: str
    name: str = ""
    display_name: str = ""
    bucket: BucketRef | None = None
    columns: list[str] = Field(default_factory=list)
    primary_key: list[str] = Field(default_factory=list)
    is_alias: bool = False
    is_typed: bool = False
    source_table: SourceTable | None = None
    rows_count: int | None = None
    data_size_bytes: int | None = None
    created: str | None = None
    last_import_date: str | None = None
    last_change_date: str | None = None

    @field_validator("columns", "primary_key", mode="before")
    @classmethod
    def _names(cls, value: Any) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list) else []

    @field_validator("bucket", "source_table", mode="before")
    @classmethod
    def _maybe_object(cls, value: Any) -> dict[str, Any] | None:
        return value if isinstance(value, dict) else None

    @property
    def bucket_id(self) -> str:
        return (self.bucket.id if self.bucket and self.bucket.id else "") or self.id.rsplit(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.name or self.id.rsplit(".", 1)[-1]


class VersionInfo(ApiModel):
    created: str | None = None
    change_description: str = ""


class Row(ApiModel):
    id: str
    name: str = ""
    description: str = ""
    configuration: dict[str, Any] = Field(default_factory=dict)
    is_disabled: bool = False
    change_description: str = ""

    _body = field_validator("configuration", mode="before")(lambda cls, v: _object(v))
    _text = field_validator("name", "description", "change_description", mode="before")(
        lambda cls, v: "" if v is None else v)


class Configuration(ApiModel):
    id: str
    name: str = ""
    description: str = ""
    configuration: dict[str, Any] = Field(default_factory=dict)
    rows: list[Row] = Field(default_factory=list)
    is_disabled: bool = False
    is_deleted: bool = False
    change_description: str = ""
    created: str | None = None
    current_version: VersionInfo | None = None

    _body = field_validator("configuration", mode="before")(lambda cls, v: _object(v))
    _rows = field_validator("rows", mode="before")(lambda cls, v: _objects(v))
    _text = field_validator("name", "description", "change_description", mode="before")(
        lambda cls, v: "" if v is None else v)
    _version = field_validator("current_version", mode="before")(
        lambda cls, v: v if isinstance(v, dict) else None)

    @property
    def last_changed_at(self) -> str | None:
        return (self.current_version.created if self.current_version else None) or self.created

    @property
    def last_change_description(self) -> str:
        return self.change_description or (self.current_version.change_description if self.current_version else "")


class Component(ApiModel):
    id: str
    name: str = ""
    type: str = ""
    configurations: list[Configuration] = Field(default_factory=list)

    _configurations = field_validator("configurations", mode="before")(lambda cls, v: _objects(v))

    @property
    def label(self) -> str:
        return self.name or self.id


class Branch(ApiModel):
    id: str
    name: str = ""
    is_default: bool = False

"""Pydantic models of the Storage API objects the documents read, tolerant of what the API sends.

The real API is loose: an empty configuration body is `[]` rather than `{}`, an empty column
metadata map is `[]`, owner and project ids come as numbers or strings, names are missing on
objects made by old tools, and legacy objects carry keys modern ones do not. Every model ignores
what it does not name (the raw JSON stays in the snapshot), coerces ids to strings and turns the
empty-list shapes into empty objects, so the document builders read fields instead of `.get()`
chains and never crash on a shape they have not met.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


def _loose_str(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return value if isinstance(value, str) else str(value)


def _loose_int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _loose_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


# null, numbers and odd shapes where the API usually sends text, numbers or flags
Text = Annotated[str, BeforeValidator(_loose_str)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_str)]
Count = Annotated[int | None, BeforeValidator(_loose_int)]
Flag = Annotated[bool, BeforeValidator(_loose_bool)]
Names = Annotated[list[str], BeforeValidator(lambda v: [str(x) for x in v] if isinstance(v, list) else [])]


def _object(value: Any) -> dict[str, Any]:
    """`[]`, null or anything not a JSON object reads as an empty object."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              coerce_numbers_to_str=True, frozen=False)


class MetadataItem(ApiModel):
    key: Text = ""
    value: Text = ""
    provider: Text = ""



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
    id: Text = ""
    name: Text = ""


class ColumnDefinition(ApiModel):
    """One column of a typed table's `definition` (`{"name", "definition": {"type", ...}, "basetype"}`)."""

    name: Text = ""
    definition: dict[str, Any] = Field(default_factory=dict)
    basetype: Text = ""

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
    primary_keys_names: Names = Field(default_factory=list)
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

    id: Text = ""
    project: ProjectRef | None = None
    is_alias: Flag = False


class BucketRef(ApiModel):
    id: Text = ""
    name: Text = ""
    display_name: Text = ""
    stage: Text = ""
    description: OptionalText = None


class Bucket(_WithMetadata):
    id: Text
    name: Text = ""
    display_name: Text = ""
    stage: Text = ""
    description: OptionalText = None
    id_branch: Text = ""
    created: OptionalText = None
    last_change_date: OptionalText = None

    @property
    def label(self) -> str:
        return self.display_name or self.name or self.id

    @property
    def stage_name(self) -> str:
        return self.stage or self.id.split(".", 1)[0]


class Table(_TableColumns):
    id: Text
    name: Text = ""
    display_name: Text = ""
    bucket: BucketRef | None = None
    columns: list[str] = Field(default_factory=list)
    primary_key: list[str] = Field(default_factory=list)
    is_alias: Flag = False
    is_typed: Flag = False
    source_table: SourceTable | None = None
    rows_count: Count = None
    data_size_bytes: Count = None
    created: OptionalText = None
    last_import_date: OptionalText = None
    last_change_date: OptionalText = None

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
    created: OptionalText = None
    change_description: Text = ""


class Row(ApiModel):
    id: Text
    name: Text = ""
    description: Text = ""
    configuration: dict[str, Any] = Field(default_factory=dict)
    is_disabled: Flag = False
    change_description: Text = ""

    _body = field_validator("configuration", mode="before")(lambda cls, v: _object(v))


class Configuration(ApiModel):
    id: Text
    name: Text = ""
    description: Text = ""
    configuration: dict[str, Any] = Field(default_factory=dict)
    rows: list[Row] = Field(default_factory=list)
    is_disabled: Flag = False
    is_deleted: Flag = False
    change_description: Text = ""
    created: OptionalText = None
    current_version: VersionInfo | None = None

    _body = field_validator("configuration", mode="before")(lambda cls, v: _object(v))
    _rows = field_validator("rows", mode="before")(lambda cls, v: _objects(v))
    _version = field_validator("current_version", mode="before")(
        lambda cls, v: v if isinstance(v, dict) else None)

    @property
    def last_changed_at(self) -> str | None:
        return (self.current_version.created if self.current_version else None) or self.created

    @property
    def last_change_description(self) -> str:
        return self.change_description or (self.current_version.change_description if self.current_version else "")


class Component(ApiModel):
    id: Text
    name: Text = ""
    type: Text = ""
    configurations: list[Configuration] = Field(default_factory=list)

    _configurations = field_validator("configurations", mode="before")(lambda cls, v: _objects(v))

    @property
    def label(self) -> str:
        return self.name or self.id


class Branch(ApiModel):
    id: Text
    name: Text = ""
    is_default: Flag = False

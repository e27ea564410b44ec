"""Document ids and kinds, made and parsed here only.

A document id is `{project_id}/{kind}/{key}` (`9001/table/out.c-crm.company`,
`9001/configuration_row/keboola.ex-db-snowflake/7314/8812`). The ids are public: search output,
`--json`, the eval format and metrics all use them, so their shape never changes. A Qdrant point id
is the UUIDv5 of the document id, so re-upserting a document overwrites its point.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(str, Enum):
    """What a document describes (flows and transformations are configurations)."""

    bucket = "bucket"
    table = "table"
    column = "column"
    configuration = "configuration"
    configuration_row = "configuration_row"


KINDS = tuple(kind.value for kind in Kind)
# A bucket id starts with its stage: `in.c-crm`, `out.c-reporting`.
STAGES = ("in", "out")
_POINT_NAMESPACE = uuid.UUID("6f1c7f0e-3b7a-5c55-9a51-4b2d0c9e8a11")


# Search makes ids of hundreds of candidates a query; a dict lookup is several times cheaper than Kind().
_KIND_VALUES: dict[Any, str] = {kind: kind.value for kind in Kind} | {kind.value: kind.value for kind in Kind}


def document_id(project_id: Any, kind: Kind | str, key: str) -> str:
    value = _KIND_VALUES.get(kind) or Kind(kind).value  # Kind() raises the error an unknown kind deserves
    return f"{project_id}/{value}/{key}"


def bucket_id(project_id: Any, bucket: str) -> str:
    return document_id(project_id, Kind.bucket, bucket)


def table_id(project_id: Any, table: str) -> str:
    return document_id(project_id, Kind.table, table)


def column_id(project_id: Any, table: str, column: str) -> str:
    return document_id(project_id, Kind.column, f"{table}.{column}")


def configuration_id(project_id: Any, component_id: str, config_id: str) -> str:
    return document_id(project_id, Kind.configuration, f"{component_id}/{config_id}")


def configuration_row_id(project_id: Any, component_id: str, config_id: str, row_id: str) -> str:
    return document_id(project_id, Kind.configuration_row, f"{component_id}/{config_id}/{row_id}")


@dataclass(frozen=True)
class DocumentId:
    """A parsed document id; parts a malformed id lacks are empty."""

    project: str
    kind: str
    key: str

    @property
    def project_id(self) -> int | None:
        return int(self.project) if self.project.isdigit() else None


def parse(doc_id: str) -> DocumentId:
    project, kind, key = (doc_id.split("/", 2) + ["", ""])[:3]
    return DocumentId(project, kind, key)


def column_table_id(payload: dict[str, Any]) -> str | None:
    """The document id of the table a column's payload belongs to (None for other kinds)."""
    if payload.get("kind") != Kind.column.value or not payload.get("table_id"):
        return None
    return table_id(payload.get("project_id"), str(payload["table_id"]))


def point_id(document_id: str) -> str:
    """Qdrant point id for a document id: UUIDv5, so re-upserting a document overwrites it."""
    return str(uuid.uuid5(_POINT_NAMESPACE, document_id))

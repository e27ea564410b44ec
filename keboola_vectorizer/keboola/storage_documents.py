"""Bucket, table and column documents.

Column types come from column metadata (`KBC.datatype.type`, else `KBC.datatype.basetype`), else a
typed table's `definition`. An alias table (`isAlias` with `sourceTable`) inherits its source's
description and column types where it has none of its own, names its source in its text and links
to it in lineage (`alias_of` / `aliases`). Dev-branch objects say which branch they belong to.
"""

from __future__ import annotations

from collections.abc import Iterator

from keboola_vectorizer.keboola.branches import BranchInfo
from keboola_vectorizer.keboola.doc_base import (
    MAX_DESCRIPTION_CHARS,
    STAGE_WORDS,
    Document,
    ProjectContext,
    finish,
)
from keboola_vectorizer.keboola.models import Bucket, Table
from keboola_vectorizer.keboola.text import clip, lines, split_identifier, with_words


def bucket_documents(ctx: ProjectContext, branch_of: dict[str, BranchInfo | None]) -> Iterator[Document]:
    project = ctx.project
    tables_by_bucket: dict[str, list[str]] = {}
    for raw in project.tables:
        table = Table.model_validate(raw)
        tables_by_bucket.setdefault(table.bucket_id, []).append(table.name or table.id)
    for raw in project.buckets:
        bucket = Bucket.model_validate(raw)
        meta = bucket.meta
        description = bucket.description or meta.get("KBC.description", "")
        stage = bucket.stage_name
        branch = ctx.branches.of_bucket(bucket.id, bucket.id_branch, meta)
        branch_of[bucket.id] = branch
        tables = tables_by_bucket.get(bucket.id, [])
        text = lines(
            f"Bucket {bucket.label} ({split_identifier(bucket.id)}), {stage} stage "
            f"({STAGE_WORDS.get(stage, stage)} data) storage bucket in Keboola project {project.name}.",
            branch.text() if branch else None,
            f"Description: {clip(description, MAX_DESCRIPTION_CHARS)}" if description else None,
            f"Tables: {', '.join(with_words(t) for t in tables)}" if tables else None,
            f"Bucket id: {bucket.id}",
        )
        yield finish(f"{project.id}/bucket/{bucket.id}", "bucket", text, {
            "project_id": project.id, "project_name": project.name, "kind": "bucket",
            "bucket_id": bucket.id, "stage": stage, "name": bucket.label, "description": description,
            "url": f"{ctx.base_url}/storage/{bucket.id}",
            "last_changed_at": bucket.last_change_date or bucket.created,
            **(branch.payload() if branch else {}),
        })


def column_type(table: Table, column: str) -> tuple[str, str, bool | None]:
    """(type, base type, nullable) of a column: metadata first, then the typed table's definition,
    then an alias's source."""
    holders = [table, *([table.source_table] if table.source_table else [])]
    for holder in holders:
        meta = holder.column_meta(column)
        column_type = meta.get("KBC.datatype.type", "")
        base_type = meta.get("KBC.datatype.basetype", "")
        nullable = {"1": True, "0": False}.get(meta.get("KBC.datatype.nullable", ""))
        definition = holder.definition.column(column) if holder.definition else None
        if definition is not None:
            column_type = column_type or definition.type + (f"({definition.length})" if definition.length
                                                            and definition.type.upper() in ("VARCHAR", "CHAR",
                                                                                            "NUMBER", "DECIMAL")
                                                            else "")
            base_type = base_type or definition.basetype
            nullable = definition.nullable if nullable is None else nullable
        if column_type or base_type:
            return column_type or base_type, base_type, nullable
    return "", "", None


def table_and_column_documents(ctx: ProjectContext, branch_of: dict[str, BranchInfo | None]) -> Iterator[Document]:
    project = ctx.project
    for raw in project.tables:
        table = Table.model_validate(raw)
        bucket = table.bucket
        bucket_id = table.bucket_id
        bucket_name = (bucket.display_name or bucket.name if bucket else "") or bucket_id
        stage = (bucket.stage if bucket else "") or bucket_id.split(".", 1)[0]
        name = table.display_name or table.table_name
        meta = table.meta
        source = table.source_table if table.is_alias else None
        description = meta.get("KBC.description") or (source.meta.get("KBC.description", "") if source else "")
        columns = list(table.columns) or ([c.name for c in table.definition.columns if c.name]
                                          if table.definition else [])
        primary_key = list(table.primary_key) or (list(table.definition.primary_keys_names)
                                                  if table.definition else [])
        branch = ctx.branches.of_table(bucket_id, meta, branch_of.get(bucket_id))
        produced_by = ctx.lineage.produced_by.get(table.id, [])
        consumed_by = ctx.lineage.consumed_by.get(table.id, [])
        alias_of = ctx.lineage.alias_of.get(table.id, "")
        aliases = ctx.lineage.aliases.get(table.id, [])
        types = {c: column_type(table, c) for c in columns}
        # The base type reads best in a list of columns (INTEGER rather than NUMBER(38,0)).
        column_text = ", ".join(" ".join(filter(None, (with_words(c), types[c][1] or types[c][0]))) for c in columns)
        url = f"{ctx.base_url}/storage/{bucket_id}/table/{table.table_name}"
        notes = ctx.table_code_notes.get(table.id, [])
        source_project = source.project.name or source.project.id if source and source.project else ""
        text = lines(
            f"Table {with_words(name)} in bucket {bucket_name} ({stage} stage, "
            f"{STAGE_WORDS.get(stage, stage)} data), Keboola project {project.name}.",
            branch.text() if branch else None,
            (f"Alias of table {source.id or 'in another project'}"
             + (f" from project {source_project}" if source_project else "") + ".") if source else None,
            f"Description: {clip(description, MAX_DESCRIPTION_CHARS)}" if description else None,
            f"Columns: {column_text}" if columns else None,
            f"Primary key: {', '.join(primary_key)}" if primary_key else None,
            f"Produced by: {ctx.describe_configs(produced_by)}" if produced_by else None,
            f"Created in code: {'; '.join(notes)}" if notes else None,
            f"Used by: {ctx.describe_configs(consumed_by)}" if consumed_by else None,
            f"Aliases: {', '.join(aliases)}" if aliases else None,
            f"Table id: {table.id} ({split_identifier(table.id)})",
        )
        yield finish(f"{project.id}/table/{table.id}", "table", text, {
            "project_id": project.id, "project_name": project.name, "kind": "table",
            "bucket_id": bucket_id, "table_id": table.id, "stage": stage, "name": name,
            "description": description, "url": url, "columns": columns, "primary_key": primary_key,
            "produced_by": produced_by, "consumed_by": consumed_by, "consumer_count": len(consumed_by),
            "alias_of": alias_of, "aliases": aliases, "is_alias": table.is_alias or None,
            "rows_count": table.rows_count, "data_size_bytes": table.data_size_bytes,
            "last_import_at": table.last_import_date,
            "last_changed_at": table.last_change_date or table.last_import_date,
            **(branch.payload() if branch else {}),
        })
        for column in columns:
            cmeta = table.column_meta(column)
            column_description = cmeta.get("KBC.description", "") or (
                source.column_meta(column).get("KBC.description", "") if source else "")
            shown_type, base_type, nullable = types[column]
            text = lines(
                f"Column {with_words(column)} of table {with_words(name)} in bucket {bucket_name}, "
                f"Keboola project {project.name}.",
                branch.text() if branch else None,
                f"Description: {clip(column_description, MAX_DESCRIPTION_CHARS)}"
                if column_description else None,
                f"Type: {shown_type}{f' ({base_type})' if base_type and base_type != shown_type else ''}"
                f"{', nullable' if nullable else ''}" if shown_type else None,
                "Part of the primary key." if column in primary_key else None,
                f"Column id: {table.id}.{column}",
            )
            yield finish(f"{project.id}/column/{table.id}.{column}", "column", text, {
                "project_id": project.id, "project_name": project.name, "kind": "column",
                "bucket_id": bucket_id, "table_id": table.id, "stage": stage, "name": column,
                "description": column_description, "data_type": base_type or shown_type,
                "url": url, **(branch.payload() if branch else {}),
            })

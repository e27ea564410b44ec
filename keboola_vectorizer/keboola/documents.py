"""Turn one project's raw Storage API JSON into documents: id, kind, text, payload, content hash.

The text is what gets embedded (dense and BM25), written the way people ask: identifiers split into
words, the most telling facts first (dense models read only the first ~256 tokens), then the
details that keyword search benefits from (columns, mappings, code). Words people use that the API
does not: component types as the UI names them ("data source", "data destination"), stages as
"input"/"output" data, tables of a configuration by name grouped by bucket, and for each table the
name and comments of the transformation code that creates it. Encrypted parameters (Keboola's
`#`-prefixed keys) never enter a document.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.keboola.lineage import (
    Lineage,
    build_lineage,
    configuration_doc_id,
    iter_configurations,
    mapping_inputs,
    mapping_output_pairs,
    mapping_outputs,
)
from keboola_vectorizer.keboola.snapshot import ProjectSnapshot

KINDS = ("bucket", "table", "column", "configuration", "configuration_row")
FLOW_COMPONENTS = {"keboola.orchestrator", "keboola.flow"}
MAX_CODE_CHARS = 6000
MAX_PARAMETER_CHARS = 1500
MAX_DESCRIPTION_CHARS = 2000
MAX_TEXT_CHARS = 12000
MAX_CODE_NOTES_CHARS = 400

# How people name component types (the Keboola UI says "data source" and "data destination").
TYPE_WORDS = {
    "extractor": "Data source (extractor)",
    "writer": "Data destination (writer)",
    "transformation": "Transformation",
    "application": "Application",
    "flow": "Flow (orchestration)",
}
STAGE_WORDS = {"in": "input", "out": "output"}

# Keys inside configurations that are plumbing, not meaning.
_IGNORED_PARAMETER_KEYS = {"authorization", "oauth_api", "credentials", "image_parameters", "runtime",
                           "processors", "shared_code_row_ids", "variables_id", "variables_values_id"}


@dataclass
class Document:
    """`text_hash` covers what is embedded (a change re-embeds); `content_hash` covers the text and
    the payload shown (a change of the payload alone, such as a data load's row count, is written
    in place without embedding)."""

    id: str
    kind: str
    text: str
    payload: dict[str, Any]
    content_hash: str = ""
    text_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "text": self.text, "payload": self.payload,
                "content_hash": self.content_hash, "text_hash": self.text_hash}


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[._\-/:\s]+")


def split_identifier(identifier: str) -> str:
    """`out.c-crm.customer_churnMonthly` -> `out crm customer churn monthly`."""
    words: list[str] = []
    for part in _SEPARATORS.split(identifier):
        if not part or part == "c":
            continue
        words.extend(w for w in _CAMEL.split(part) if w)
    return " ".join(w.lower() if not w.isupper() or len(w) > 1 else w for w in words)


def _with_words(identifier: str) -> str:
    """The identifier followed by its words when they differ, so both exact and split terms match."""
    words = split_identifier(identifier)
    return identifier if words == identifier.lower() else f"{identifier} ({words})"


def _metadata(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    return {str(m.get("key")): str(m.get("value")) for m in items if isinstance(m, dict) and m.get("key")}


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _parameter_words(value: Any, budget: int = MAX_PARAMETER_CHARS) -> str:
    """Readable key: value pairs from a configuration's parameters, skipping secrets and plumbing."""
    parts: list[str] = []
    used = [0]  # characters gathered so far; a running total keeps the walk linear

    def add(part: str) -> None:
        parts.append(part)
        used[0] += len(part)

    def walk(node: Any, key: str = "") -> None:
        if used[0] > budget:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                k = str(k)
                if k.startswith("#") or k in _IGNORED_PARAMETER_KEYS or k in {"blocks", "phases", "tasks"}:
                    continue
                walk(v, k)
        elif isinstance(node, list):
            for item in node[:50]:
                walk(item, key)
        elif isinstance(node, str):
            stripped = node.strip()
            if stripped.startswith(("{", "[")):
                try:
                    walk(json.loads(stripped), key)
                    return
                except ValueError:
                    pass
            if stripped and len(stripped) < 300 and not stripped.startswith("KBC::"):
                add(f"{split_identifier(key)}: {stripped}" if key else stripped)
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and key:
            add(f"{split_identifier(key)}: {node}")

    walk(value)
    return _clip("; ".join(parts), budget)


def _code_blocks(configuration: dict[str, Any]) -> tuple[list[str], str]:
    """(code block names, code text) of a transformation, trimmed to a budget."""
    parameters = configuration.get("parameters")
    blocks = parameters.get("blocks") if isinstance(parameters, dict) else None
    names: list[str] = []
    scripts: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        for code in block.get("codes") or []:
            if not isinstance(code, dict):
                continue
            if code.get("name"):
                names.append(str(code["name"]))
            script = code.get("script")
            if isinstance(script, list):
                scripts.extend(str(s) for s in script)
            elif isinstance(script, str):
                scripts.append(script)
    code = "\n".join(scripts)
    code = re.sub(r"[ \t]+", " ", code)
    code = re.sub(r"\n\s*\n+", "\n", code)
    return names, _clip(code, MAX_CODE_CHARS)


def table_refs(table_ids: list[str]) -> str:
    """Table ids as people read them: names (with their words) grouped by bucket."""
    by_bucket: dict[str, list[str]] = {}
    for table_id in table_ids:
        bucket_id, _, table_name = table_id.rpartition(".")
        by_bucket.setdefault(bucket_id, []).append(_with_words(table_name or table_id))
    return "; ".join(f"{', '.join(names)} (bucket {bucket_id})" if bucket_id else ", ".join(names)
                     for bucket_id, names in by_bucket.items())


_SQL_COMMENT = re.compile(r"--[ \t]*([^\n]+)|/\*(.*?)\*/", re.DOTALL)


def _code_statements(configuration: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(code name, statements) of each code of a transformation."""
    parameters = configuration.get("parameters")
    blocks = parameters.get("blocks") if isinstance(parameters, dict) else None
    out: list[tuple[str, list[str]]] = []
    for block in blocks if isinstance(blocks, list) else []:
        for code in (block.get("codes") or []) if isinstance(block, dict) else []:
            if not isinstance(code, dict):
                continue
            script = code.get("script")
            statements = ([str(s) for s in script] if isinstance(script, list)
                          else str(script or "").split(";\n"))
            out.append((str(code.get("name") or block.get("name") or ""), statements))
    return out


def _creates(statement: str, table_name: str) -> bool:
    name = re.escape(table_name)
    return bool(re.search(rf"\b(?:table|view)\s+(?:if\s+not\s+exists\s+)?[\"`']?{name}[\"`']?(?![\w.])",
                          statement, re.IGNORECASE)
                or re.search(rf"out/tables/{name}(?:\.csv)?\b", statement))


def code_notes(configuration: dict[str, Any], table_name: str) -> str:
    """Name and comments of the transformation code that creates `table_name` (its source in the job)."""
    parts: list[str] = []
    for code_name, statements in _code_statements(configuration):
        creating = [st for st in statements if table_name and _creates(st, table_name)]
        if not creating:
            continue
        comments: list[str] = []
        for statement in creating:
            for match in _SQL_COMMENT.finditer(statement):
                comment = " ".join((match.group(1) or match.group(2) or "").split()).strip("-=*#/ ")
                if len(comment) > 3 and comment not in comments:
                    comments.append(comment)
        parts.append(code_name + (f" ({'; '.join(comments)})" if comments else ""))
    return _clip("; ".join(dict.fromkeys(p for p in parts if p)), MAX_CODE_NOTES_CHARS)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(text: str, payload: dict[str, Any]) -> str:
    shown = {k: v for k, v in payload.items() if k not in {"indexed_at", "content_hash"}}
    digest = hashlib.sha256(text.encode("utf-8"))
    digest.update(json.dumps(shown, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    return digest.hexdigest()


@dataclass
class _ProjectContext:
    project: ProjectSnapshot
    lineage: Lineage
    config_names: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    # table id -> notes from the transformation code that creates it
    table_code_notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{self.project.stack_url}/admin/projects/{self.project.id}"

    def describe_configs(self, doc_ids: list[str]) -> str:
        return ", ".join(self.config_names.get(d, d.split("/", 2)[-1]) for d in doc_ids)


def _finish(doc_id: str, kind: str, text: str, payload: dict[str, Any]) -> Document:
    text = _clip(re.sub(r"[ \t]+\n", "\n", text).replace("\x00", ""), MAX_TEXT_CHARS)
    payload = {k: v for k, v in payload.items() if v not in (None, "", [])}
    return Document(doc_id, kind, text, payload, content_hash(text, payload), text_hash(text))


def _lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _bucket_documents(ctx: _ProjectContext) -> Iterator[Document]:
    project = ctx.project
    tables_by_bucket: dict[str, list[str]] = {}
    for table in project.tables:
        bucket_id = str((table.get("bucket") or {}).get("id") or table["id"].rsplit(".", 1)[0])
        tables_by_bucket.setdefault(bucket_id, []).append(str(table.get("name") or table["id"]))
    for bucket in project.buckets:
        bucket_id = str(bucket["id"])
        meta = _metadata(bucket.get("metadata"))
        description = str(bucket.get("description") or meta.get("KBC.description") or "")
        display = str(bucket.get("displayName") or bucket.get("name") or bucket_id)
        stage = str(bucket.get("stage") or bucket_id.split(".", 1)[0])
        tables = tables_by_bucket.get(bucket_id, [])
        text = _lines(
            f"Bucket {display} ({split_identifier(bucket_id)}), {stage} stage "
            f"({STAGE_WORDS.get(stage, stage)} data) storage bucket in Keboola project {project.name}.",
            f"Description: {_clip(description, MAX_DESCRIPTION_CHARS)}" if description else None,
            f"Tables: {', '.join(_with_words(t) for t in tables)}" if tables else None,
            f"Bucket id: {bucket_id}",
        )
        yield _finish(f"{project.id}/bucket/{bucket_id}", "bucket", text, {
            "project_id": project.id, "project_name": project.name, "kind": "bucket",
            "bucket_id": bucket_id, "stage": stage, "name": display, "description": description,
            "url": f"{ctx.base_url}/storage/{bucket_id}",
            "last_changed_at": bucket.get("lastChangeDate") or bucket.get("created"),
        })


def _column_type(column_meta: dict[str, str]) -> str:
    return column_meta.get("KBC.datatype.basetype") or column_meta.get("KBC.datatype.type") or ""


def _table_and_column_documents(ctx: _ProjectContext) -> Iterator[Document]:
    project = ctx.project
    for table in project.tables:
        table_id = str(table["id"])
        bucket = table.get("bucket") or {}
        bucket_id = str(bucket.get("id") or table_id.rsplit(".", 1)[0])
        bucket_name = str(bucket.get("displayName") or bucket.get("name") or bucket_id)
        stage = str(bucket.get("stage") or bucket_id.split(".", 1)[0])
        name = str(table.get("displayName") or table.get("name") or table_id)
        table_name = str(table.get("name") or name)
        meta = _metadata(table.get("metadata"))
        description = str(meta.get("KBC.description") or table.get("description") or "")
        column_meta = {c: _metadata(m) for c, m in (table.get("columnMetadata") or {}).items()}
        columns = [str(c) for c in table.get("columns") or []]
        primary_key = [str(c) for c in table.get("primaryKey") or []]
        produced_by = ctx.lineage.produced_by.get(table_id, [])
        consumed_by = ctx.lineage.consumed_by.get(table_id, [])
        column_text = ", ".join(
            " ".join(filter(None, (_with_words(c), _column_type(column_meta.get(c, {}))))) for c in columns
        )
        url = f"{ctx.base_url}/storage/{bucket_id}/table/{table_name}"
        notes = ctx.table_code_notes.get(table_id, [])
        text = _lines(
            f"Table {_with_words(name)} in bucket {bucket_name} ({stage} stage, "
            f"{STAGE_WORDS.get(stage, stage)} data), Keboola project {project.name}.",
            f"Description: {_clip(description, MAX_DESCRIPTION_CHARS)}" if description else None,
            f"Columns: {column_text}" if columns else None,
            f"Primary key: {', '.join(primary_key)}" if primary_key else None,
            f"Produced by: {ctx.describe_configs(produced_by)}" if produced_by else None,
            f"Created in code: {'; '.join(notes)}" if notes else None,
            f"Used by: {ctx.describe_configs(consumed_by)}" if consumed_by else None,
            f"Table id: {table_id} ({split_identifier(table_id)})",
        )
        yield _finish(f"{project.id}/table/{table_id}", "table", text, {
            "project_id": project.id, "project_name": project.name, "kind": "table",
            "bucket_id": bucket_id, "table_id": table_id, "stage": stage, "name": name,
            "description": description, "url": url, "columns": columns, "primary_key": primary_key,
            "produced_by": produced_by, "consumed_by": consumed_by, "consumer_count": len(consumed_by),
            "rows_count": table.get("rowsCount"), "data_size_bytes": table.get("dataSizeBytes"),
            "last_import_at": table.get("lastImportDate"),
            "last_changed_at": table.get("lastChangeDate") or table.get("lastImportDate"),
        })
        for column in columns:
            cmeta = column_meta.get(column, {})
            column_description = cmeta.get("KBC.description", "")
            column_type = cmeta.get("KBC.datatype.type", "")
            base_type = cmeta.get("KBC.datatype.basetype", "")
            nullable = cmeta.get("KBC.datatype.nullable")
            text = _lines(
                f"Column {_with_words(column)} of table {_with_words(name)} in bucket {bucket_name}, "
                f"Keboola project {project.name}.",
                f"Description: {_clip(column_description, MAX_DESCRIPTION_CHARS)}"
                if column_description else None,
                f"Type: {column_type}{f' ({base_type})' if base_type and base_type != column_type else ''}"
                f"{', nullable' if nullable == '1' else ''}" if column_type else None,
                "Part of the primary key." if column in primary_key else None,
                f"Column id: {table_id}.{column}",
            )
            yield _finish(f"{project.id}/column/{table_id}.{column}", "column", text, {
                "project_id": project.id, "project_name": project.name, "kind": "column",
                "bucket_id": bucket_id, "table_id": table_id, "stage": stage, "name": column,
                "description": column_description, "data_type": base_type or column_type,
                "url": url,
            })


def _flow_text(ctx: _ProjectContext, configuration: dict[str, Any]) -> str:
    phases = {p.get("id"): str(p.get("name") or p.get("id")) for p in configuration.get("phases") or []
              if isinstance(p, dict)}
    by_phase: dict[str, list[str]] = {}
    for task in configuration.get("tasks") or []:
        if not isinstance(task, dict):
            continue
        inner = task.get("task") or {}
        doc = configuration_doc_id(ctx.project.id, str(inner.get("componentId")), str(inner.get("configId")))
        label = ctx.config_names.get(doc) or str(task.get("name") or doc)
        by_phase.setdefault(phases.get(task.get("phase"), str(task.get("phase"))), []).append(label)
    return "\n".join(f"Phase {phase}: {', '.join(tasks)}" for phase, tasks in by_phase.items())


def _flow_task_ids(project_id: int, configuration: dict[str, Any]) -> list[str]:
    ids = []
    for task in configuration.get("tasks") or []:
        inner = task.get("task") if isinstance(task, dict) else None
        if isinstance(inner, dict) and inner.get("componentId") and inner.get("configId"):
            ids.append(configuration_doc_id(project_id, str(inner["componentId"]), str(inner["configId"])))
    return ids


def _configuration_documents(ctx: _ProjectContext) -> Iterator[Document]:
    project = ctx.project
    for component, config in iter_configurations(project.components):
        component_id = str(component.get("id"))
        component_name = str(component.get("name") or component_id)
        component_type = str(component.get("type") or "other")
        config_id = str(config.get("id"))
        doc_id = configuration_doc_id(project.id, component_id, config_id)
        body = config.get("configuration") if isinstance(config.get("configuration"), dict) else {}
        name = str(config.get("name") or config_id)
        description = str(config.get("description") or "")
        is_flow = component_id in FLOW_COMPONENTS
        kind_label = TYPE_WORDS.get("flow" if is_flow else component_type, component_type.capitalize())
        inputs = ctx.lineage.inputs.get(doc_id, [])
        outputs = ctx.lineage.outputs.get(doc_id, [])
        code_names, code = _code_blocks(body)
        parameter_words = "" if code or is_flow else _parameter_words(body.get("parameters"))
        rows = [r for r in config.get("rows") or [] if isinstance(r, dict)]
        url = (f"{ctx.base_url}/flows/{config_id}" if is_flow
               else f"{ctx.base_url}/components/{component_id}/{config_id}")
        text = _lines(
            f"{kind_label} configuration {name} of component {component_name} "
            f"({split_identifier(component_id)}), Keboola project {project.name}."
            + (" Disabled." if config.get("isDisabled") else ""),
            f"Description: {_clip(description, MAX_DESCRIPTION_CHARS)}" if description else None,
            f"Reads tables: {table_refs(inputs)}" if inputs else None,
            f"Writes tables: {table_refs(outputs)}" if outputs else None,
            _flow_text(ctx, body) if is_flow else None,
            f"Rows: {', '.join(str(r.get('name') or r.get('id')) for r in rows)}" if rows else None,
            f"Code blocks: {', '.join(code_names)}" if code_names else None,
            f"Parameters: {parameter_words}" if parameter_words else None,
            f"Code:\n{code}" if code else None,
        )
        yield _finish(doc_id, "configuration", text, {
            "project_id": project.id, "project_name": project.name, "kind": "configuration",
            "component_id": component_id, "component_name": component_name,
            "component_type": "flow" if is_flow else component_type, "configuration_id": config_id,
            "name": name, "description": description, "url": url, "inputs": inputs, "outputs": outputs,
            "flow_tasks": _flow_task_ids(project.id, body) if is_flow else [],
            "is_disabled": bool(config.get("isDisabled")),
            "last_changed_at": (config.get("currentVersion") or {}).get("created") or config.get("created"),
        })
        for row in rows:
            row_id = str(row.get("id"))
            row_body = row.get("configuration") if isinstance(row.get("configuration"), dict) else {}
            row_name = str(row.get("name") or row_id)
            row_description = str(row.get("description") or "")
            row_inputs = mapping_inputs(row_body)
            row_outputs = mapping_outputs(row_body)
            row_params = _parameter_words(row_body.get("parameters"))
            text = _lines(
                f"{row_name}: row of {TYPE_WORDS.get(component_type, component_type).lower()} configuration "
                f"{name} of component "
                f"{component_name} ({split_identifier(component_id)}), Keboola project {project.name}."
                + (" Disabled." if row.get("isDisabled") else ""),
                f"Description: {_clip(row_description, MAX_DESCRIPTION_CHARS)}" if row_description else None,
                f"Reads tables: {table_refs(row_inputs)}" if row_inputs else None,
                f"Writes tables: {table_refs(row_outputs)}" if row_outputs else None,
                f"Parameters: {row_params}" if row_params else None,
            )
            yield _finish(f"{project.id}/configuration_row/{component_id}/{config_id}/{row_id}",
                          "configuration_row", text, {
                "project_id": project.id, "project_name": project.name, "kind": "configuration_row",
                "component_id": component_id, "component_name": component_name,
                "component_type": component_type, "configuration_id": config_id, "row_id": row_id,
                "parent_id": doc_id, "name": row_name, "description": row_description,
                "url": f"{ctx.base_url}/components/{component_id}/{config_id}/rows/{row_id}",
                "inputs": row_inputs, "outputs": row_outputs,
                "is_disabled": bool(row.get("isDisabled")),
            })


def project_documents(project: ProjectSnapshot) -> Iterator[Document]:
    """Every document of one project: buckets, tables, columns, configurations, rows."""
    lineage = build_lineage(project.id, project.components, project.tables)
    ctx = _ProjectContext(project, lineage)
    for component, config in iter_configurations(project.components):
        doc = configuration_doc_id(project.id, str(component.get("id")), str(config.get("id")))
        ctx.config_names[doc] = f"{config.get('name') or config.get('id')} ({component.get('name')})"
        body = config.get("configuration") if isinstance(config.get("configuration"), dict) else {}
        for source, destination in mapping_output_pairs(body):
            note = code_notes(body, source)
            if note and note not in ctx.table_code_notes.setdefault(destination, []):
                ctx.table_code_notes[destination].append(note)
    yield from _bucket_documents(ctx)
    yield from _table_and_column_documents(ctx)
    yield from _configuration_documents(ctx)

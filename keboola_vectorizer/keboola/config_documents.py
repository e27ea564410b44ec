"""Configuration and configuration row documents.

Everything a configuration holds is read, not only `parameters` and `storage`: a scheduler's cron,
timezone and target, variables, a legacy transformation row's `queries`, `backend`, `input` and
`output`. Flows of every kind (see flows.py) list their phases and tasks. Rows without a name take
the `name` their configuration body holds (legacy transformations). `changeDescription` says what
the last change was. Secrets never enter the text (see text.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keboola_vectorizer.keboola.code import code_blocks
from keboola_vectorizer.keboola.doc_base import MAX_DESCRIPTION_CHARS, TYPE_WORDS, Document, ProjectContext, finish
from keboola_vectorizer.keboola.flows import FLOW_COMPONENTS, flow_task_ids, flow_text, read_flow
from keboola_vectorizer.keboola.lineage import configuration_doc_id, mapping_inputs, mapping_outputs
from keboola_vectorizer.keboola.models import Component, Configuration, Row
from keboola_vectorizer.keboola.text import (
    IGNORED_PARAMETER_KEYS,
    clip,
    lines,
    parameter_words,
    split_identifier,
    table_refs,
)


def _schedule(ctx: ProjectContext, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A `keboola.scheduler` body: (text line, payload fields)."""
    schedule = body.get("schedule") if isinstance(body.get("schedule"), dict) else {}
    target = body.get("target") if isinstance(body.get("target"), dict) else {}
    if not schedule and not target:
        return "", {}
    parts = []
    if schedule.get("cronTab"):
        parts.append(f"runs on cron {schedule['cronTab']} ({schedule.get('timezone') or 'UTC'})")
    if schedule.get("state"):
        parts.append(str(schedule["state"]))
    target_doc = ""
    if target.get("componentId") and target.get("configurationId"):
        target_doc = configuration_doc_id(ctx.project.id, str(target["componentId"]), str(target["configurationId"]))
        label = ctx.config_names.get(target_doc, f"{target['componentId']} {target['configurationId']}")
        rows = [str(r) for r in target.get("configurationRowIds") or []]
        parts.append(f"target {label}" + (f" rows {', '.join(rows)}" if rows else ""))
    return ("Schedule: " + "; ".join(parts)) if parts else "", {
        "schedule_cron": schedule.get("cronTab"), "schedule_timezone": schedule.get("timezone"),
        "schedule_target": target_doc}


def _row_name(row: Row) -> str:
    legacy_name = row.configuration.get("name")
    return row.name or (str(legacy_name) if isinstance(legacy_name, (str, int)) and legacy_name != "" else "") or row.id


def _legacy_transformation(body: dict[str, Any]) -> str | None:
    if "queries" not in body and "backend" not in body:
        return None
    details = [f"backend {body['backend']}" if body.get("backend") else "",
               f"type {body['type']}" if body.get("type") else "",
               f"phase {body['phase']}" if body.get("phase") not in (None, "") else ""]
    words = ", ".join(d for d in details if d)
    return f"Legacy transformation: {words}." if words else "Legacy transformation."


def configuration_documents(ctx: ProjectContext) -> Iterator[Document]:
    project = ctx.project
    for raw in project.components:
        component = Component.model_validate(raw)
        component_type = component.type or "other"
        for config in component.configurations:
            if config.is_deleted:
                continue
            yield from _configuration(ctx, component, component_type, config)


def _configuration(ctx: ProjectContext, component: Component, component_type: str,
                   config: Configuration) -> Iterator[Document]:
    project = ctx.project
    doc_id = configuration_doc_id(project.id, component.id, config.id)
    body = config.configuration
    name = config.name or config.id
    is_flow = component.id in FLOW_COMPONENTS
    kind_label = TYPE_WORDS.get("flow" if is_flow else component_type, component_type.capitalize())
    inputs = ctx.lineage.inputs.get(doc_id, [])
    outputs = ctx.lineage.outputs.get(doc_id, [])
    code_names, code = code_blocks(body)
    phases = read_flow(body) if is_flow else []
    schedule_line, schedule_payload = _schedule(ctx, body)
    parameter_text = "" if code or is_flow else parameter_words(body)
    rows = config.rows
    change = config.last_change_description
    if is_flow:
        url = (f"{ctx.base_url}/orchestrations/{config.id}" if component.id == "orchestrator"
               else f"{ctx.base_url}/flows/{config.id}")
    else:
        url = ctx.config_url(component.id, config.id)
    text = lines(
        f"{kind_label} configuration {name} of component {component.label} "
        f"({split_identifier(component.id)}), Keboola project {project.name}."
        + (" Disabled." if config.is_disabled else ""),
        f"Description: {clip(config.description, MAX_DESCRIPTION_CHARS)}" if config.description else None,
        schedule_line or None,
        f"Reads tables: {table_refs(inputs)}" if inputs else None,
        f"Writes tables: {table_refs(outputs)}" if outputs else None,
        flow_text(phases, ctx.config_names, project.id) if is_flow else None,
        f"Rows: {', '.join(_row_name(r) for r in rows)}" if rows else None,
        f"Code blocks: {', '.join(code_names)}" if code_names else None,
        f"Parameters: {parameter_text}" if parameter_text else None,
        f"Last change: {change}" if change else None,
        f"Code:\n{code}" if code else None,
    )
    yield finish(doc_id, "configuration", text, {
        "project_id": project.id, "project_name": project.name, "kind": "configuration",
        "component_id": component.id, "component_name": component.label,
        "component_type": "flow" if is_flow else component_type, "configuration_id": config.id,
        "name": name, "description": config.description, "url": url, "inputs": inputs, "outputs": outputs,
        "flow_tasks": flow_task_ids(phases, project.id) if is_flow else [],
        "is_disabled": config.is_disabled, "change_description": change,
        "last_changed_at": config.last_changed_at, **schedule_payload,
    })
    for row in rows:
        row_body = row.configuration
        row_name = _row_name(row)
        row_inputs = mapping_inputs(row_body)
        row_outputs = mapping_outputs(row_body)
        row_code_names, row_code = code_blocks(row_body)
        legacy = _legacy_transformation(row_body)
        # A legacy row's `input` / `output` are its mappings, already read as tables.
        ignored = IGNORED_PARAMETER_KEYS | ({"input", "output"} if legacy else set())
        row_params = parameter_words(row_body, ignored=ignored)
        text = lines(
            f"{row_name}: row of {TYPE_WORDS.get(component_type, component_type).lower()} configuration "
            f"{name} of component {component.label} ({split_identifier(component.id)}), "
            f"Keboola project {project.name}." + (" Disabled." if row.is_disabled else ""),
            f"Description: {clip(row.description, MAX_DESCRIPTION_CHARS)}" if row.description else None,
            legacy,
            f"Reads tables: {table_refs(row_inputs)}" if row_inputs else None,
            f"Writes tables: {table_refs(row_outputs)}" if row_outputs else None,
            f"Code blocks: {', '.join(row_code_names)}" if row_code_names else None,
            f"Parameters: {row_params}" if row_params else None,
            f"Last change: {row.change_description}" if row.change_description else None,
            f"Code:\n{row_code}" if row_code else None,
        )
        yield finish(f"{project.id}/configuration_row/{component.id}/{config.id}/{row.id}",
                     "configuration_row", text, {
            "project_id": project.id, "project_name": project.name, "kind": "configuration_row",
            "component_id": component.id, "component_name": component.label,
            "component_type": component_type, "configuration_id": config.id, "row_id": row.id,
            "parent_id": doc_id, "name": row_name, "description": row.description,
            "url": f"{ctx.config_url(component.id, config.id)}/rows/{row.id}",
            "inputs": row_inputs, "outputs": row_outputs, "is_disabled": row.is_disabled,
            "change_description": row.change_description,
        })

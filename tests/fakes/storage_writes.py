"""The fake Storage API's writes over HTTP, as kbcstorage and the Storage API make them.

Each write is one of EventLog's edits (tests/fakes/storage_events.py), so it changes the served files and
emits the matching event, exactly like an edit a test makes in Python.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.storage_events import EventLog, error_body


def handle_write(log: EventLog, project_id: int, method: str, route: str, raw: bytes,
                 content_type: str) -> tuple[int, Any]:
    """POST tables/{id}/metadata, DELETE tables/{id}, POST/PUT/DELETE [branch/default/]components/
    {component}/configs[/{id}]; JSON or form bodies (kbcstorage sends JSON, the UI forms)."""
    body = _parse_body(raw, content_type)
    parts = route.split("/")
    if parts[:2] == ["branch", "default"]:
        parts = parts[2:]
    if len(parts) == 3 and parts[0] == "tables" and parts[2] == "metadata" and method == "POST":
        table_id = parts[1]
        for entry in body.get("metadata") or []:
            log.set_table_metadata(project_id, table_id, str(entry["key"]), str(entry["value"]))
        for column, entries in _columns_metadata(body.get("columnsMetadata")):
            for entry in entries:
                log.set_table_metadata(project_id, table_id, str(entry["key"]), str(entry["value"]), column)
        return 201, body.get("metadata") or []
    if len(parts) == 2 and parts[0] == "tables" and method == "DELETE":
        if not any(t["id"] == parts[1] for t in log.read(project_id, "tables") or []):
            return 404, error_body(f"The table {parts[1]} was not found", "storage.tables.notFound")
        log.delete_table(project_id, parts[1])
        return 204, None
    if len(parts) >= 3 and parts[0] == "components" and parts[2] == "configs":
        component_id = parts[1]
        if len(parts) == 3 and method == "POST":
            config_id = str(body.get("configurationId") or uuid.uuid4().int % 10**9)
            log.create_configuration(project_id, component_id, config_id, str(body.get("name") or config_id),
                                      str(body.get("description") or ""), body.get("configuration") or {})
            return 201, {"id": config_id, "name": body.get("name"), "version": 1}
        if len(parts) == 4 and method == "PUT":
            changes = {k: body[k] for k in ("name", "description", "configuration", "isDisabled") if k in body}
            event = log.edit_configuration(project_id, component_id, parts[3], **changes)
            return 200, {"id": parts[3], "changed": event is not None}
        if len(parts) == 4 and method == "DELETE":
            log.delete_configuration(project_id, component_id, parts[3])
            return 204, None
    return 405, error_body(f"The fake Storage API does not serve {method} /v2/storage/{route}", "methodNotAllowed")


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}
    form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
    if isinstance(form.get("configuration"), str):
        form["configuration"] = json.loads(form["configuration"])  # the API takes it as a JSON string
    if "isDisabled" in form:
        form["isDisabled"] = form["isDisabled"] in ("1", "true")
    return form


def _columns_metadata(value: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """`columnsMetadata` as kbcstorage sends it (a list with `columnName`) or the API's {column: [...]}."""
    if isinstance(value, dict):
        return [(str(c), list(e)) for c, e in value.items()]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in value or []:
        grouped.setdefault(str(entry.get("columnName")), []).append(entry)
    return list(grouped.items())

"""The fake Storage API's events feed, and edits to its organisation that emit the matching events.

    with FakeStorageApi(copy_of_org) as api:
        api.events.edit_configuration(9001, "keboola.ex-db-mysql", "123", description="New words")
        ...  # GET /v2/storage/events?sinceId=...&sortOrder=asc now lists storage.componentConfigurationChanged

Edits change the served files in place (so serve a copy) and append an event shaped like Keboola's:
`id` (a numeric string, increasing across the stack), `uuid`, `event`, `component: storage`, `message`,
`type`, `created`, `params`, `token {id, name}`, `objectType`, `objectId`, `objectName`, `idBranch`.
As on a real stack: a save that changes nothing emits nothing; a token lists every event of its project
only when it is a master/admin token or has `canReadAllProjectEvents`, otherwise only its own; events
may become visible `visibility_delay_s` after the change; `purge_before(id)` drops old events the way
retention does.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.storage_api import FakeStorageApi

MAX_LIMIT = 10000
EDITOR_TOKEN = {"id": "4242", "name": "editor@example.com"}  # "someone else" making the changes


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"error": message, "code": code, "status": "error", "exceptionId": f"exception-{uuid.uuid4().hex[:16]}"}


class EventLog:
    """Events per project and the organisation edits that append them; thread-safe."""

    def __init__(self, fake: FakeStorageApi) -> None:
        self._fake = fake
        self._lock = threading.RLock()
        self._events: dict[int, list[tuple[float, dict[str, Any]]]] = {}
        self._next_id = 500_000_000
        self.visibility_delay_s = 0.0

    # --- the feed ----------------------------------------------------------------------------

    def answer(self, project_id: int, query: dict[str, list[str]]) -> tuple[int, Any]:
        """`GET /v2/storage/events`: sinceId / maxId (exclusive), sortOrder (desc), limit (100), q."""
        def one(name: str, default: str = "") -> str:
            return (query.get(name) or [default])[0]

        try:
            since_id = int(one("sinceId", "0") or 0)
            max_id = int(one("maxId", "0") or 0)
            limit = int(one("limit", "100") or 100)
        except ValueError:
            return 400, error_body("sinceId, maxId and limit must be integers", "storage.validation")
        if not 1 <= limit <= MAX_LIMIT:
            return 400, error_body(f"limit must be between 1 and {MAX_LIMIT}", "storage.validation")
        order = one("sortOrder", "desc")
        if order not in ("asc", "desc"):
            return 400, error_body("sortOrder must be asc or desc", "storage.validation")
        own_only = not self._reads_all_events(project_id)
        verify = self.read(project_id, "tokens-verify") or {}
        matches = _query_matcher(one("q"))
        now = time.monotonic()
        with self._lock:
            visible = [e for at, e in self._events.get(project_id, []) if at <= now]
        chosen = [
            e for e in visible
            if int(e["id"]) > since_id and (not max_id or int(e["id"]) < max_id) and matches(e)
            and (not own_only or str(e["token"]["id"]) == str(verify.get("id")))
        ]
        chosen.sort(key=lambda e: int(e["id"]), reverse=order == "desc")
        return 200, chosen[:limit]

    def _reads_all_events(self, project_id: int) -> bool:
        verify = self.read(project_id, "tokens-verify") or {}
        return bool(verify.get("isMasterToken") or verify.get("admin") or verify.get("canReadAllProjectEvents"))

    def all(self, project_id: int) -> list[dict[str, Any]]:
        """Every event of a project, visible or not (tests)."""
        with self._lock:
            return [e for _, e in self._events.get(project_id, [])]

    def purge_before(self, project_id: int, event_id: int) -> None:
        """Drop events older than `event_id`, as the stack's retention does."""
        with self._lock:
            self._events[project_id] = [(a, e) for a, e in self._events.get(project_id, [])
                                        if int(e["id"]) >= event_id]

    def emit(self, project_id: int, event: str, object_type: str, object_id: str, *, object_name: str = "",
             message: str = "", params: dict[str, Any] | None = None,
             token: dict[str, str] | None = None) -> dict[str, Any]:
        """Append one event (tests may also emit events that change nothing, e.g. noise)."""
        with self._lock:
            self._next_id += 1
            branch = next((b.get("id") for b in self.read(project_id, "dev-branches") or []
                           if isinstance(b, dict) and b.get("isDefault")), None)
            record = {
                "uuid": str(uuid.uuid4()), "id": str(self._next_id), "event": event, "component": "storage",
                "message": message or f"{event} {object_id}", "description": "", "type": "info",
                "runId": None, "created": _now(), "params": params or {}, "results": {},
                "performance": {}, "token": dict(token or EDITOR_TOKEN), "configurationId": None,
                "objectId": object_id, "objectName": object_name or object_id, "objectType": object_type,
                "context": {"remoteAddr": "127.0.0.1", "httpReferer": None,
                            "userAgent": "fake-editor", "admin": None, "actionCall": None},
                "idBranch": branch,
            }
            self._events.setdefault(project_id, []).append((time.monotonic() + self.visibility_delay_s, record))
            return record

    # --- edits ---------------------------------------------------------------------------------

    def create_bucket(self, project_id: int, bucket_id: str, description: str = "") -> dict[str, Any]:
        stage, _, name = bucket_id.partition(".")
        bucket = {"id": bucket_id, "name": name, "displayName": name.removeprefix("c-"), "stage": stage,
                  "description": description, "created": _now(), "lastChangeDate": _now(),
                  "backend": "snowflake", "metadata": [], "attributes": []}
        self._update(project_id, "buckets", lambda buckets: [*buckets, bucket])
        return self.emit(project_id, "storage.bucketCreated", "bucket", bucket_id, object_name=name,
                         message=f'Created bucket "{bucket_id}"', params={"stage": stage, "name": name})

    def delete_bucket(self, project_id: int, bucket_id: str) -> dict[str, Any]:
        self._update(project_id, "buckets", lambda buckets: [b for b in buckets if b["id"] != bucket_id])
        self._update(project_id, "tables", lambda tables: [t for t in tables if _bucket_of(t) != bucket_id])
        return self.emit(project_id, "storage.bucketDeleted", "bucket", bucket_id,
                         message=f'Deleted bucket "{bucket_id}"')

    def create_table(self, project_id: int, bucket_id: str, name: str, columns: list[str],
                     primary_key: list[str] | None = None) -> dict[str, Any]:
        bucket = next(b for b in self.read(project_id, "buckets") if b["id"] == bucket_id)
        table_id = f"{bucket_id}.{name}"
        table = {"id": table_id, "name": name, "displayName": name, "primaryKey": list(primary_key or []),
                 "created": _now(), "lastImportDate": None, "lastChangeDate": _now(), "rowsCount": 0,
                 "dataSizeBytes": 0, "isAlias": False, "columns": list(columns), "metadata": [],
                 "columnMetadata": {}, "attributes": [],
                 "bucket": {k: bucket.get(k) for k in ("id", "name", "displayName", "stage", "description")}}
        self._update(project_id, "tables", lambda tables: [*tables, table])
        return self.emit(project_id, "storage.tableCreated", "table", table_id, object_name=name,
                         message=f'Created table "{table_id}"',
                         params={"columns": list(columns), "primaryKey": list(primary_key or [])})

    def delete_table(self, project_id: int, table_id: str) -> dict[str, Any]:
        self._update(project_id, "tables", lambda tables: [t for t in tables if t["id"] != table_id])
        return self.emit(project_id, "storage.tableDeleted", "table", table_id,
                         message=f'Deleted table "{table_id}"')

    def rename_table(self, project_id: int, table_id: str, display_name: str) -> dict[str, Any] | None:
        """The UI's rename: a new `displayName` (the id stays)."""
        if not self._change_table(project_id, table_id, lambda t: {**t, "displayName": display_name}):
            return None
        return self.emit(project_id, "storage.tableUpdated", "table", table_id,
                         message=f'Table "{table_id}" display name changed', params={"displayName": display_name})

    def add_column(self, project_id: int, table_id: str, column: str) -> dict[str, Any]:
        self._change_table(project_id, table_id, lambda t: {**t, "columns": [*t["columns"], column]})
        return self.emit(project_id, "storage.tableColumnAdded", "table", table_id,
                         message=f'Added column "{column}" to table "{table_id}"', params={"column": column})

    def set_table_metadata(self, project_id: int, table_id: str, key: str, value: str,
                           column: str | None = None) -> dict[str, Any] | None:
        """`POST tables/{id}/metadata`: one key set on the table (or on one of its columns)."""
        def change(table: dict[str, Any]) -> dict[str, Any]:
            entry = {"id": str(uuid.uuid4().int % 10**9), "key": key, "value": value, "provider": "user",
                     "timestamp": _now()}
            if column is None:
                return {**table, "metadata": _set_key(table.get("metadata") or [], entry)}
            metas = dict(table.get("columnMetadata") or {})
            metas[column] = _set_key(metas.get(column) or [], entry)
            return {**table, "columnMetadata": metas}

        if not self._change_table(project_id, table_id, change):
            return None
        return self.emit(project_id, "storage.tableMetadataSet", "table", table_id,
                         message=f'Metadata set on table "{table_id}"',
                         params={"metadata": [{"key": key, "value": value}],
                                 **({"columnName": column} if column else {})})

    def set_bucket_metadata(self, project_id: int, bucket_id: str, key: str, value: str) -> dict[str, Any]:
        entry = {"id": str(uuid.uuid4().int % 10**9), "key": key, "value": value, "provider": "user",
                 "timestamp": _now()}
        # The API shows a bucket's KBC.description metadata as its `description` too.
        shown = {"description": value} if key == "KBC.description" else {}
        self._update(project_id, "buckets", lambda buckets: [
            {**b, **shown, "metadata": _set_key(b.get("metadata") or [], entry), "lastChangeDate": _now()}
            if b["id"] == bucket_id else b for b in buckets])
        return self.emit(project_id, "storage.bucketMetadataSet", "bucket", bucket_id,
                         message=f'Metadata set on bucket "{bucket_id}"',
                         params={"metadata": [{"key": key, "value": value}]})

    def load_data(self, project_id: int, table_id: str, rows: int) -> dict[str, Any]:
        """An import: rows and dates change, metadata does not (`storage.tableImportDone`)."""
        def change(table: dict[str, Any]) -> dict[str, Any]:
            count = int(table.get("rowsCount") or 0) + rows
            return {**table, "rowsCount": count, "dataSizeBytes": count * 64, "lastImportDate": _now()}

        self._change_table(project_id, table_id, change, touch=False)
        return self.emit(project_id, "storage.tableImportDone", "table", table_id,
                         message=f'Imported rows into table "{table_id}"',
                         params={"importedRowsCount": rows, "incremental": True})

    def edit_configuration(self, project_id: int, component_id: str, configuration_id: str,
                           **changes: Any) -> dict[str, Any] | None:
        """Change `name`, `description`, `configuration` or `isDisabled`; None (no event) if nothing changed."""
        version: list[int] = []

        def change(config: dict[str, Any]) -> dict[str, Any]:
            updated = {**config, **changes}
            if updated == config:
                return config
            updated["version"] = int(config.get("version") or 1) + 1
            updated["changeDescription"] = "edited by the fake"
            version.append(updated["version"])
            return updated

        self._change_configurations(project_id, component_id, lambda configs: [
            change(c) if str(c["id"]) == str(configuration_id) else c for c in configs])
        if not version:
            return None  # a save that changes nothing emits no event, as on a real stack
        return self._configuration_event(project_id, "storage.componentConfigurationChanged", component_id,
                                         configuration_id, version[0])

    def create_configuration(self, project_id: int, component_id: str, configuration_id: str, name: str,
                             description: str = "", configuration: dict[str, Any] | None = None) -> dict[str, Any]:
        config = {"id": configuration_id, "name": name, "description": description, "created": _now(),
                  "version": 1, "isDisabled": False, "isDeleted": False, "changeDescription": "",
                  "configuration": configuration or {}, "rows": [], "rowsSortOrder": [], "state": {}}
        self._change_configurations(project_id, component_id, lambda configs: [*configs, config])
        return self._configuration_event(project_id, "storage.componentConfigurationCreated", component_id,
                                         configuration_id, 1)

    def delete_configuration(self, project_id: int, component_id: str, configuration_id: str) -> dict[str, Any]:
        """Moved to trash: it leaves the listing."""
        self._change_configurations(project_id, component_id, lambda configs: [
            c for c in configs if str(c["id"]) != str(configuration_id)])
        return self._configuration_event(project_id, "storage.componentConfigurationDeleted", component_id,
                                         configuration_id, None)

    def _configuration_event(self, project_id: int, event: str, component_id: str, configuration_id: str,
                             version: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"component": component_id, "configurationId": str(configuration_id)}
        if version is not None:
            params["version"] = version
        record = self.emit(project_id, event, "configuration", str(configuration_id),
                           message=f'{event.rsplit(".", 1)[-1]} {component_id} {configuration_id}', params=params)
        record["configurationId"] = str(configuration_id)
        return record

    def write(self, project_id: int, method: str, route: str, raw: bytes, content_type: str) -> tuple[int, Any]:
        """A Storage API write over HTTP (tests/fakes/storage_writes.py)."""
        from tests.fakes.storage_writes import handle_write

        return handle_write(self, project_id, method, route, raw, content_type)

    # --- files ---------------------------------------------------------------------------------

    def _path(self, project_id: int, stem: str) -> Path:
        return self._fake.root / str(project_id) / f"{stem}.json"

    def read(self, project_id: int, stem: str) -> Any:
        try:
            return json.loads(self._path(project_id, stem).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _update(self, project_id: int, stem: str, change: Any) -> None:
        with self._lock:
            path = self._path(project_id, stem)
            data = change(self.read(project_id, stem) or [])
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, path)  # a request being served sees the old file or the new, never half

    def _change_table(self, project_id: int, table_id: str, change: Any, touch: bool = True) -> bool:
        changed: list[bool] = []

        def apply(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for table in tables:
                if table["id"] == table_id:
                    updated = change(table)
                    if updated != table:
                        changed.append(True)
                        updated = {**updated, "lastChangeDate": _now()} if touch else updated
                    table = updated
                out.append(table)
            return out

        self._update(project_id, "tables", apply)
        return bool(changed)

    def _change_configurations(self, project_id: int, component_id: str, change: Any) -> None:
        def apply(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if not any(c["id"] == component_id for c in components):
                components = [*components, {"id": component_id, "type": "other", "name": component_id,
                                            "configurations": []}]
            return [{**c, "configurations": change(list(c.get("configurations") or []))}
                    if c["id"] == component_id else c for c in components]

        self._update(project_id, "components", apply)


def _bucket_of(table: dict[str, Any]) -> str:
    return str((table.get("bucket") or {}).get("id") or table["id"].rsplit(".", 1)[0])


def _set_key(entries: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(e for e in entries if e.get("key") != entry["key"]), entry]


def _query_matcher(q: str) -> Any:
    """The `q` subset clients use: `field:value` terms joined by OR (or spaces, meaning AND)."""
    q = q.strip()
    if not q:
        return lambda event: True
    alternatives = [part.split() for part in q.split(" OR ")]

    def term(event: dict[str, Any], text: str) -> bool:
        field, _, value = text.partition(":")
        if not value:
            return text.lower() in str(event.get("message", "")).lower()
        value = value.strip('"')
        actual = str(event.get(field, ""))
        return actual == value or (value.endswith("*") and actual.startswith(value[:-1]))

    return lambda event: any(all(term(event, t) for t in terms) for terms in alternatives)

"""The five read-only tools as plain functions over a SearchEngine; server.py registers them.

Each returns one JSON-able dict sized by budget.py, with `hints` naming the tool to call next.
Foreseen failures (empty query, unknown id, no index) raise ToolError with the one-line fix; the
SDK turns anything else into a generic "Error executing tool" so no exception text leaks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from keboola_vectorizer.engine import SearchEngine, make_filters
from keboola_vectorizer.errors import VectorizerError
from keboola_vectorizer.logging_setup import scrub
from keboola_vectorizer.mcp_server.budget import DEFAULT_MAX_CHARS, fit, omitted, remeasure
from keboola_vectorizer.mcp_server.inputs import bounded_int, int_list, is_null, optional_text, text_list

MAX_LIMIT = 50
MAX_OFFSET = 200  # deeper than this a model should refine the query instead
MAX_IDS = 10
MAX_DEPTH = 3
MAX_NODES = 50  # per lineage direction
COLUMNS_PAGE = 50
CODE_CHARS = 1_500
HIDDEN_FIELDS = {"text", "content_hash", "document_id", "columns"}
HINTS_RESERVE = 800  # characters kept free for the hints and cursor written after the cuts

F = TypeVar("F", bound=Callable[..., Any])


def tool_errors(fn: F) -> F:
    """A VectorizerError (what the CLI prints as `error: ...`) becomes a ToolError with its one line."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VectorizerError as error:
            raise ToolError(scrub(error.one_line())) from None

    return wrapper  # type: ignore[return-value]


def _age(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _index(answer: dict[str, Any]) -> dict[str, Any]:
    return {"generation": answer.get("generation"), "age_s": answer.get("index_age_s"),
            "age": _age(answer.get("index_age_s"))}


def keboola_ids(document_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """Keboola's own ids of an object, for chaining to Keboola's MCP server and API."""
    _, kind, rest = (document_id.split("/", 2) + ["", ""])[:3]
    configuration_id = row_id = None
    if kind in ("configuration", "configuration_row"):
        parts = rest.split("/")
        configuration_id = parts[1] if len(parts) > 1 else None
        row_id = parts[2] if kind == "configuration_row" and len(parts) > 2 else None
    ids = {"table_id": result.get("table_id"), "bucket_id": result.get("bucket_id"),
           "component_id": result.get("component_id"), "configuration_id": configuration_id}
    if row_id:
        ids["row_id"] = row_id
    return ids


def _matched_on(query: str, result: dict[str, Any]) -> str:
    """Where the query's words appear: the name, the snippet, or neither (matched by meaning)."""
    words = {w for w in re.findall(r"\w+", query.lower()) if len(w) > 2}

    def shares(text: str) -> bool:
        return bool(words & set(re.findall(r"\w+", re.sub(r"[_.\-]", " ", text.lower()))))

    places = [name for name, text in (("name", result.get("name") or ""), ("snippet", result.get("snippet") or ""))
              if shares(text)]
    return " and ".join(places) if places else "meaning (no shared words)"


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def encode_cursor(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "f": fingerprint}).encode()).decode().rstrip("=")


def decode_cursor(cursor: Any, fingerprint: str) -> int:
    if is_null(cursor):
        return 0
    try:
        text = str(cursor).strip()
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        offset, given = int(data["o"]), str(data["f"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ToolError("the cursor is not one this server gave out — call again without cursor") from None
    if given != fingerprint:
        raise ToolError("the cursor belongs to another query or filters — repeat that search, or drop cursor")
    return offset


def _search_filters(kinds: Any, project_ids: Any, bucket_id: Any, component_id: Any, stage: Any) -> dict[str, Any]:
    return {"kinds": text_list(kinds), "project_ids": int_list(project_ids, "project_ids"),
            "bucket_id": text_list(bucket_id), "component_id": text_list(component_id), "stage": text_list(stage)}


class Tools:
    """The tool bodies; `max_chars` is the response budget (KV_MCP_MAX_CHARS)."""

    def __init__(self, engine: SearchEngine, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.engine = engine
        self.max_chars = max_chars

    def _fit(self, body: dict[str, Any], groups: list[list[Any]]) -> dict[str, Any]:
        fit(body, groups, max(self.max_chars - HINTS_RESERVE, self.max_chars // 2))
        body["budget"]["max_chars"] = self.max_chars
        return body

    @tool_errors
    def semantic_search(self, query: Any, kinds: Any = None, project_ids: Any = None, bucket_id: Any = None,
                        component_id: Any = None, stage: Any = None, mode: Any = None, limit: Any = 10,
                        cursor: Any = None) -> dict[str, Any]:
        text = optional_text(query) or ""
        if not text:
            raise ToolError("the query is empty — pass words describing the data you look for, "
                            "e.g. 'monthly revenue per customer'")
        filters = _search_filters(kinds, project_ids, bucket_id, component_id, stage)
        search_mode = optional_text(mode) or "hybrid"
        size, limit_capped = bounded_int(limit, "limit", 10, 1, MAX_LIMIT)
        fingerprint = _fingerprint(text, filters, search_mode)
        offset = min(decode_cursor(cursor, fingerprint), MAX_OFFSET)
        started, answer = time.perf_counter(), None
        try:
            answer = self.engine.search(text, mode=search_mode, limit=size, offset=offset, **filters)
        finally:
            _audit(text, search_mode, filters, size, answer, time.perf_counter() - started)
        results = [{**r, **keboola_ids(r["id"], r), "matched_on": _matched_on(text, r)} for r in answer["results"]]
        body: dict[str, Any] = {"query": text, "mode": search_mode, "results": results,
                                "has_more": answer["has_more"], "next_cursor": None, "index": _index(answer)}
        for key in ("no_good_match", "confidence"):  # the search's own signal, when it gives one
            if key in answer:
                body[key] = answer[key]
        if limit_capped:
            body["limit_capped_to"] = size
        self._fit(body, [[("results",)]])
        cut = omitted(body, "results")
        if body["has_more"] or cut:
            body["has_more"] = True
            body["next_cursor"] = encode_cursor(offset + len(body["results"]), fingerprint)
        body["hints"] = self._search_hints(body)
        return remeasure(body)

    @staticmethod
    def _search_hints(body: dict[str, Any]) -> list[str]:
        results = body["results"]
        if not results:
            return ["No match: try other words or fewer filters; index_status shows which projects and kinds "
                    "are indexed."]
        hints = ["get_objects(ids=[...]) gives the full description, columns and lineage ids of a result."]
        table = next((r for r in results if r["kind"] == "table"), None)
        if table:
            hints.append(f"get_lineage(table='{table['id']}') shows what produces and uses that table.")
        if body["has_more"]:
            hints.append("More results: call semantic_search again with the same arguments and "
                         "cursor=next_cursor.")
        return hints

    @tool_errors
    def get_objects(self, ids: Any, columns_offset: Any = 0, columns_limit: Any = COLUMNS_PAGE) -> dict[str, Any]:
        wanted = list(dict.fromkeys(text_list(ids)))
        if not wanted:
            raise ToolError("no ids given — pass document ids from semantic_search results, "
                            "e.g. ids=['9001/table/out.c-crm.company']")
        first, page_size = bounded_int(columns_offset, "columns_offset", 0, 0, 100_000)[0], \
            bounded_int(columns_limit, "columns_limit", COLUMNS_PAGE, 1, 200)[0]
        objects = []
        for found in self.engine.get_objects(wanted[:MAX_IDS]):
            if not found["found"]:
                objects.append({"id": found["id"], "error": found["error"]})
                continue
            objects.append(self._object(found["id"], found["payload"], first, page_size))
        body: dict[str, Any] = {"objects": objects}
        if len(wanted) > MAX_IDS:
            body["ids_capped"] = {"max": MAX_IDS, "omitted": wanted[MAX_IDS:]}
        column_lists = [("objects", i, "columns", "items") for i, o in enumerate(objects) if "columns" in o]
        self._fit(body, [column_lists, [("objects",)]])
        for i, obj in enumerate(body["objects"]):
            cut = omitted(body, f"objects.{i}.columns.items")
            if cut:
                obj["columns"]["truncated"] = True
                obj["columns"]["next_offset"] = obj["columns"]["offset"] + len(obj["columns"]["items"])
        body["hints"] = self._object_hints(body)
        return remeasure(body)

    def _object(self, document_id: str, payload: dict[str, Any], first: int, page_size: int) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": document_id, **{k: v for k, v in payload.items() if k not in HIDDEN_FIELDS}}
        obj.update(keboola_ids(document_id, payload))
        names = [str(c) for c in payload.get("columns") or []]
        if payload.get("kind") == "table":
            page = names[first:first + page_size]
            details = {}
            if page:
                column_ids = [f"{payload.get('project_id')}/column/{payload.get('table_id')}.{c}" for c in page]
                details = {o["id"]: o["payload"] for o in self.engine.get_objects(column_ids) if o["found"]}
            items = []
            for name, column_id in zip(page, [f"{payload.get('project_id')}/column/{payload.get('table_id')}.{c}"
                                             for c in page], strict=True):
                detail = details.get(column_id, {})
                items.append({"name": name, "data_type": detail.get("data_type") or None,
                              "description": detail.get("description") or None})
            more = first + len(page) < len(names)
            obj["columns"] = {"total": len(names), "offset": first, "items": items, "truncated": more,
                              "next_offset": first + len(page) if more else None}
        text = str(payload.get("text") or "")
        if "\nCode:\n" in text:
            code = text.split("\nCode:\n", 1)[1]
            obj["code"] = {"text": code[:CODE_CHARS], "chars": len(code), "truncated": len(code) > CODE_CHARS}
        return obj

    @staticmethod
    def _object_hints(body: dict[str, Any]) -> list[str]:
        hints = []
        if any("error" in o for o in body["objects"]):
            hints.append("Unknown ids: take ids from semantic_search results (they look like "
                         "'<project>/<kind>/<keboola id>').")
        if any(o.get("columns", {}).get("truncated") for o in body["objects"]):
            hints.append("More columns: call get_objects(ids=[that id], columns_offset=columns.next_offset).")
        if any(o.get("code", {}).get("truncated") for o in body["objects"]):
            hints.append("Code is cut to its first characters; the full script is in Keboola (url).")
        if body.get("ids_capped"):
            hints.append(f"At most {MAX_IDS} ids a call: ask again for the omitted ones.")
        if any(o.get("kind") == "table" for o in body["objects"]):
            hints.append("get_lineage(table=id) walks produced_by / consumed_by further.")
        return hints

    @tool_errors
    def get_lineage(self, table: Any, project_id: Any = None, direction: Any = "both",
                    depth: Any = 1) -> dict[str, Any]:
        ref = optional_text(table)
        if not ref:
            raise ToolError("no table given — pass a table id like out.c-crm.company or a document id")
        projects = int_list(project_id, "project_id")
        steps, depth_capped = bounded_int(depth, "depth", 1, 1, MAX_DEPTH)
        way = (optional_text(direction) or "both").lower()
        answer = self.engine.lineage(ref, projects[0] if projects else None, way, steps)
        body: dict[str, Any] = {"root": answer["root"], "direction": way, "depth": steps,
                                "upstream": answer["upstream"], "downstream": answer["downstream"],
                                "index": _index(answer)}
        if depth_capped:
            body["depth_capped_to"] = steps
        for side in ("upstream", "downstream"):
            if len(body[side]) > MAX_NODES:
                body[f"{side}_capped"] = {"max": MAX_NODES, "omitted": len(body[side]) - MAX_NODES}
                body[side] = body[side][:MAX_NODES]
        self._fit(body, [[("upstream",), ("downstream",)]])
        body["hints"] = ["get_objects(ids=[...]) for any node's description and columns; nodes with "
                         "indexed=false are outside the index (another project or not created yet)."]
        if body["budget"]["truncated"] or any(f"{s}_capped" in body for s in ("upstream", "downstream")):
            body["hints"].append("Cut to fit: ask one direction at a time or a smaller depth.")
        return remeasure(body)

    @tool_errors
    def find_similar(self, id: Any, kinds: Any = None, project_ids: Any = None, bucket_id: Any = None,  # noqa: A002
                     component_id: Any = None, stage: Any = None, limit: Any = 10) -> dict[str, Any]:
        ref = optional_text(id)
        if not ref:
            raise ToolError("no id given — pass a document id from semantic_search results")
        size, limit_capped = bounded_int(limit, "limit", 10, 1, MAX_LIMIT)
        answer = self.engine.similar(ref, limit=size, **_search_filters(kinds, project_ids, bucket_id,
                                                                         component_id, stage))
        results = [{**r, **keboola_ids(r["id"], r)} for r in answer["results"]]
        body: dict[str, Any] = {"id": answer["document_id"], "results": results, "index": _index(answer)}
        if limit_capped:
            body["limit_capped_to"] = size
        self._fit(body, [[("results",)]])
        body["hints"] = ["get_objects(ids=[...]) to compare the candidates in full."] if results else [
            "Nothing similar with these filters: drop some filters."]
        return remeasure(body)

    @tool_errors
    def index_status(self) -> dict[str, Any]:
        status = self.engine.status()
        body = {**status, "age": _age(status.get("index_age_s"))}
        if not status["exists"]:
            body["hints"] = ["The index is empty or missing: run `keboola-vectorizer index` (or point "
                             "QDRANT_PATH / QDRANT_URL at the index), then ask again."]
        else:
            body["hints"] = ["semantic_search(query=...) finds objects by meaning; filter with the project ids "
                             "and kinds listed here."]
        return remeasure(self._fit(body, []))


def _audit(query: str, mode: str, filters: dict[str, Any], limit: int, answer: dict[str, Any] | None,
           seconds: float) -> None:
    from keboola_vectorizer.audit import log_search

    try:
        search_filters = make_filters(**filters)
    except VectorizerError:
        search_filters = None
    log_search(token=None, query=query, mode=mode, filters=search_filters, limit=limit,
               results=None if answer is None else answer["results"], seconds=seconds, command="mcp")

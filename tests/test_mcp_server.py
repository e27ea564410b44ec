"""The MCP tools through the real `mcp` client, in process, over an index of tests/mini_org.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from keboola_vectorizer.config import load_settings
from keboola_vectorizer.engine import SearchEngine
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.mcp_server import build_mcp_server
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.store.edge import EdgeStore
from tests.mini_org import (
    BAKERY,
    PLANTED_SECRET,
    REVENUE_QUESTION,
    REVENUE_TABLE,
    TRANSFORMATION,
    WEATHER,
    WIDE_COLUMNS,
    write_mini_org,
)

TOOLS = {"semantic_search", "get_objects", "get_lineage", "find_similar", "index_status"}
SEEN: list[str] = []  # every response text of this module, for the secret scan at the end


def _engine(root: Path, embedder, **kwargs: Any) -> SearchEngine:
    return SearchEngine(load_settings(qdrant_path=root), embedder_factory=lambda meta: embedder, **kwargs)


@pytest.fixture(scope="module")
def server(mini_index: Path, embedder):
    engine = _engine(mini_index, embedder)
    yield build_mcp_server(engine)
    engine.close()


def run(server: Any, body: Callable[[Client], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with Client(server) as client:
            return await body(client)

    return asyncio.run(main())


def call(server: Any, tool: str, arguments: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """(is_error, the parsed JSON answer or the error text)."""
    result = run(server, lambda client: client.call_tool(tool, arguments or {}))
    text = result.content[0].text
    SEEN.append(text)
    if result.is_error:
        return True, text
    data = json.loads(text)
    assert data == result.structured_content
    return False, data


def ok(server: Any, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    is_error, data = call(server, tool, arguments)
    assert not is_error, data
    return data


def test_five_read_only_tools_with_schemas(server) -> None:
    listed = run(server, lambda client: client.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert tool.annotations.read_only_hint is True and tool.annotations.open_world_hint is False
        assert tool.description
    schemas = {t.name: t.input_schema for t in listed}
    assert schemas["semantic_search"]["required"] == ["query"]
    assert {"kinds", "project_ids", "bucket_id", "component_id", "stage", "mode", "limit", "cursor"} <= set(
        schemas["semantic_search"]["properties"])
    assert schemas["get_objects"]["required"] == ["ids"]
    assert schemas["get_lineage"]["required"] == ["table"] and "depth" in schemas["get_lineage"]["properties"]
    assert schemas["find_similar"]["required"] == ["id"]
    assert schemas["index_status"].get("properties", {}) == {}


def test_known_question_answered_in_the_first_five_with_keboola_ids(server) -> None:
    answer = ok(server, "semantic_search", {"query": REVENUE_QUESTION, "limit": 5})
    top = {r["id"]: r for r in answer["results"]}
    assert REVENUE_TABLE in top
    hit = top[REVENUE_TABLE]
    assert (hit["table_id"], hit["bucket_id"], hit["project_id"]) == (
        "out.c-sales.daily_revenue", "out.c-sales", BAKERY)
    assert hit["url"].startswith("https://") and hit["snippet"] and hit["matched_on"]
    assert answer["index"]["generation"].startswith("gen-") and answer["index"]["age_s"] >= 0
    assert answer["has_more"] and answer["next_cursor"]
    assert any("get_objects" in h for h in answer["hints"])
    config = ok(server, "semantic_search", {"query": "loads receipts from the till database", "kinds": "configuration",
                                            "limit": 1})["results"][0]
    assert (config["component_id"], config["configuration_id"]) == ("keboola.ex-db-mysql", "4001")


@pytest.mark.parametrize("arguments", [
    {"kinds": "table"}, {"kinds": '["table"]'}, {"kinds": ["table"], "stage": "null"},
    {"kinds": "table, bucket", "limit": "4"}, {"kinds": "table", "project_ids": "701", "cursor": "null"},
    {"kinds": "table", "mode": "null", "bucket_id": "", "component_id": None},
])
def test_tolerant_inputs(server, arguments: dict[str, Any]) -> None:
    answer = ok(server, "semantic_search", {"query": "shop receipts", **arguments})
    assert answer["results"] and {r["kind"] for r in answer["results"]} <= {"table", "bucket"}


def test_filters(server) -> None:
    weather = ok(server, "semantic_search", {"query": "measurements", "project_ids": [WEATHER], "limit": 20})
    assert weather["results"] and {r["project_id"] for r in weather["results"]} == {WEATHER}
    columns = ok(server, "semantic_search", {"query": "amount", "kinds": "column", "bucket_id": "in.c-pos"})
    assert {(r["kind"], r["bucket_id"]) for r in columns["results"]} == {("column", "in.c-pos")}
    writers = ok(server, "semantic_search", {"query": "publish", "component_id": "keboola.wr-google-sheets"})
    assert [r["component_id"] for r in writers["results"]] == ["keboola.wr-google-sheets"]
    outputs = ok(server, "semantic_search", {"query": "sales", "stage": "out"})["results"]
    assert outputs and all("/out.c-" in r["id"] for r in outputs)


def test_limits_and_cursor_pages(server) -> None:
    capped = ok(server, "semantic_search", {"query": "sensor reading", "limit": 500})
    # 50 asked for; the budget (12,000 characters) keeps fewer and says how many it cut.
    [cut] = capped["budget"]["cuts"]
    assert capped["limit_capped_to"] == 50 and len(capped["results"]) + cut["omitted"] == 50 and capped["has_more"]
    first = ok(server, "semantic_search", {"query": "shop sales", "limit": 3})
    second = ok(server, "semantic_search", {"query": "shop sales", "limit": 3, "cursor": first["next_cursor"]})
    whole = ok(server, "semantic_search", {"query": "shop sales", "limit": 6})
    assert [r["id"] for r in first["results"] + second["results"]] == [r["id"] for r in whole["results"]]
    is_error, text = call(server, "semantic_search", {"query": "weather", "cursor": first["next_cursor"]})
    assert is_error and "another query" in text
    is_error, text = call(server, "semantic_search", {"query": "weather", "cursor": "garbage!"})
    assert is_error and "without cursor" in text


def test_get_objects_full_payloads_paged_columns_code_and_per_id_errors(server) -> None:
    telemetry = f"{BAKERY}/table/in.c-pos.oven_telemetry"
    answer = ok(server, "get_objects", {"ids": [REVENUE_TABLE, telemetry, TRANSFORMATION, "701/table/in.c-pos.gone"]})
    revenue, wide, transformation, missing = answer["objects"]
    assert revenue["description"].startswith("Takings") and revenue["produced_by"] == [TRANSFORMATION]
    assert revenue["consumed_by"] == [f"{BAKERY}/configuration/keboola.wr-google-sheets/6001"]
    assert {c["name"]: c["data_type"] for c in revenue["columns"]["items"]}["revenue_czk"] == "NUMERIC"
    assert revenue["columns"] == {**revenue["columns"], "total": 3, "truncated": False, "next_offset": None}
    assert (wide["columns"]["total"], len(wide["columns"]["items"]), wide["columns"]["truncated"]) == (60, 50, True)
    assert transformation["code"]["truncated"] and len(transformation["code"]["text"]) < transformation["code"]["chars"]
    assert "SUM(total_amount_czk)" in transformation["code"]["text"] and transformation["configuration_id"] == "5001"
    assert "error" in missing and "in.c-pos.gone" in missing["error"]
    rest = ok(server, "get_objects", {"ids": telemetry, "columns_offset": "50"})["objects"][0]["columns"]
    assert [c["name"] for c in rest["items"]] == WIDE_COLUMNS[50:] and rest["truncated"] is False
    sensors = [f"{BAKERY}/column/in.c-pos.oven_telemetry.{c}" for c in WIDE_COLUMNS[:12]]
    many = ok(server, "get_objects", {"ids": sensors})
    assert len(many["objects"]) == 10 and len(many["ids_capped"]["omitted"]) == 2
    assert ok(server, "get_objects", {"ids": "in.c-meteo.observations"})["objects"][0]["id"] == \
        f"{WEATHER}/table/in.c-meteo.observations"


def test_get_lineage_depth_cap_and_unknown_table(server) -> None:
    answer = ok(server, "get_lineage", {"table": "out.c-sales.daily_revenue"})
    assert TRANSFORMATION in {n["id"] for n in answer["upstream"]}
    assert [n["id"] for n in answer["downstream"]] == [f"{BAKERY}/configuration/keboola.wr-google-sheets/6001"]
    deep = ok(server, "get_lineage", {"table": "in.c-pos.receipts", "direction": "downstream", "depth": "9"})
    assert deep["depth_capped_to"] == 3 and deep["upstream"] == []
    assert f"{BAKERY}/configuration/keboola.wr-google-sheets/6001" in {n["id"] for n in deep["downstream"]}
    is_error, text = call(server, "get_lineage", {"table": "out.c-none.nothing"})
    assert is_error and "no table or document" in text and "table id" in text


def test_find_similar_and_index_status(server, mini_snapshot: Path) -> None:
    similar = ok(server, "find_similar", {"id": REVENUE_TABLE, "kinds": "table", "limit": "2"})
    assert len(similar["results"]) == 2 and REVENUE_TABLE not in {r["id"] for r in similar["results"]}
    is_error, text = call(server, "find_similar", {"id": "701/table/in.c-pos.gone"})
    assert is_error and "no document" in text
    status = ok(server, "index_status")
    assert status["exists"] and status["by_kind"]["column"] == 60 + 3 + 3 + 4 + 4
    assert set(status["by_project"]) == {str(BAKERY), str(WEATHER)} and status["age"]


def test_error_paths(server, tmp_path: Path, embedder) -> None:
    is_error, text = call(server, "semantic_search", {"query": "   "})
    assert is_error and "query is empty" in text
    is_error, text = call(server, "get_objects", {"ids": []})
    assert is_error and "no ids given" in text
    with _engine(tmp_path / "none", embedder) as empty:
        missing = build_mcp_server(empty)
        is_error, text = call(missing, "semantic_search", {"query": "revenue"})
        assert is_error and "keboola-vectorizer index" in text
        assert call(missing, "index_status")[1]["exists"] is False


def test_unexpected_exceptions_give_a_generic_message(mini_index: Path, embedder, monkeypatch) -> None:
    with _engine(mini_index, embedder) as engine:
        def explode(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"internal detail {PLANTED_SECRET}")

        monkeypatch.setattr(engine, "search", explode)
        is_error, text = call(build_mcp_server(engine, warm=False), "semantic_search", {"query": "revenue"})
        assert is_error and text == "Error executing tool semantic_search"


def test_response_budget_cuts_and_flags(mini_index: Path, embedder) -> None:
    with _engine(mini_index, embedder) as engine:
        small = build_mcp_server(engine, max_chars=2_000, warm=False)
        result = run(small, lambda client: client.call_tool("semantic_search", {"query": "sensor", "limit": 50}))
        text = result.content[0].text
        answer = json.loads(text)
        assert answer["budget"]["chars"] == len(text) <= 2_000
        assert answer["budget"]["est_tokens"] == -(-len(text) // 4)
        assert answer["budget"]["truncated"] and answer["budget"]["cuts"][0]["field"] == "results"
        assert answer["has_more"] and len(answer["results"]) < 50
        page2 = json.loads(run(small, lambda client: client.call_tool(
            "semantic_search", {"query": "sensor", "limit": 50, "cursor": answer["next_cursor"]})).content[0].text)
        assert not {r["id"] for r in page2["results"]} & {r["id"] for r in answer["results"]}
        wide = json.loads(run(small, lambda client: client.call_tool(
            "get_objects", {"ids": f"{BAKERY}/table/in.c-pos.oven_telemetry"})).content[0].text)
        columns = wide["objects"][0]["columns"]
        assert wide["budget"]["chars"] <= 2_000 and columns["truncated"]
        assert columns["next_offset"] == len(columns["items"])
        assert any("columns_offset" in h for h in wide["hints"])


def test_new_generation_is_served_without_restart(mini_index_copy: Path, tmp_path: Path, embedder) -> None:
    with _engine(mini_index_copy, embedder, refresh_s=0, settle_s=0) as engine:
        server = build_mcp_server(engine)
        before = ok(server, "index_status")
        changed = write_mini_org(tmp_path / "changed", extra_table="in.c-meteo.wind")
        store = EdgeStore(mini_index_copy)
        try:
            run_index(Snapshot(changed), store, embedder, rebuild=True)
        finally:
            store.close()
        answer = ok(server, "semantic_search", {"query": "wind speed per station", "limit": 3})
        assert answer["results"][0]["id"] == f"{WEATHER}/table/in.c-meteo.wind"
        assert answer["index"]["generation"] != before["generation"]
        assert ok(server, "index_status")["points"] == before["points"] + 3


def test_no_secret_in_any_response() -> None:
    """Every answer above (the extractor whose configuration holds a secret parameter came up in
    searches) is free of the planted secret."""
    extractor = f"{BAKERY}/configuration/keboola.ex-db-mysql/4001"
    assert any(extractor in text for text in SEEN)
    assert not [text for text in SEEN if PLANTED_SECRET in text]


def test_extractor_object_shows_no_secret(server) -> None:
    answer = ok(server, "get_objects", {"ids": f"{BAKERY}/configuration/keboola.ex-db-mysql/4001"})
    obj = answer["objects"][0]
    assert obj["name"] == "Till database" and obj["outputs"]
    assert PLANTED_SECRET not in json.dumps(answer)


def test_api_key_from_a_secret_file_guards_http(mini_index: Path, embedder, tmp_path: Path, monkeypatch) -> None:
    from starlette.testclient import TestClient

    from keboola_vectorizer.mcp_server import mcp_http_app

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "kv-api-key").write_text("file-key-3f9a2c\n")
    monkeypatch.setenv("KV_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("KV_API_KEY", "env-key-loses")
    key = load_settings().kv_api_key.get_secret_value()
    assert key == "file-key-3f9a2c"
    with _engine(mini_index, embedder) as engine, TestClient(mcp_http_app(engine, key)) as http:
        assert http.get("/healthz").json()["index"] is True
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        assert http.post("/mcp", json=listing).status_code == 401
        assert http.post("/mcp", json=listing, headers={"Authorization": "Bearer env-key-loses"}).status_code == 401


def test_http_beyond_loopback_needs_a_key(monkeypatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from keboola_vectorizer.cli.app import app as cli_app
    from keboola_vectorizer.errors import ConfigError

    monkeypatch.delenv("KV_API_KEY", raising=False)
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    result = CliRunner().invoke(cli_app, ["mcp", "--transport", "http", "--host", "0.0.0.0"])
    assert isinstance(result.exception, ConfigError) and "KV_API_KEY" in result.exception.one_line()

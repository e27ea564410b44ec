"""The service's JSON API through a real HTTP client against a real uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from keboola_vectorizer.service import app as service_app
from tests.mini_org import BAKERY, REVENUE_QUESTION, REVENUE_TABLE, TRANSFORMATION, WEATHER, write_mini_org
from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import index_snapshot, start_service, wait_ready
from tests.service_server import free_port

RESULT_FIELDS = {"id", "kind", "name", "project_id", "project_name", "score", "url", "snippet", "matched_on"}


def _get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(url + path, params=params, timeout=30)


def _one_line_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_search_answers_with_results_facets_and_time(service_url: str) -> None:
    body = _get(service_url, "/api/search", q=REVENUE_QUESTION).json()
    assert body["results"][0]["id"] == REVENUE_TABLE
    assert len(body["results"]) == 10
    assert all(set(r) >= RESULT_FIELDS for r in body["results"])
    assert set(body["facets"]) == {"kind", "project", "component", "stage"}
    assert sum(body["facets"]["kind"].values()) == body["facet_pool"] > 10
    assert set(body["facets"]["project"]) == {str(BAKERY), str(WEATHER)}
    assert body["facets"]["stage"].keys() <= {"in", "out"}
    assert isinstance(body["took_ms"], float) and body["generation"]


def test_filters_narrow_results_and_facets(service_url: str) -> None:
    tables = _get(service_url, "/api/search", q=REVENUE_QUESTION, kind="table", limit=50).json()
    assert {r["kind"] for r in tables["results"]} == {"table"}
    assert tables["facets"]["kind"] == {"table": len(tables["results"])}
    weather = _get(service_url, "/api/search", q="rain", project=str(WEATHER)).json()
    assert weather["results"] and {r["project_id"] for r in weather["results"]} == {WEATHER}
    both = httpx.get(service_url + "/api/search",
                     params=[("q", "shop"), ("kind", "table"), ("kind", "configuration")]).json()
    assert {r["kind"] for r in both["results"]} == {"table", "configuration"}
    component = _get(service_url, "/api/search", q="shop", component="keboola.snowflake-transformation").json()
    assert [r["id"] for r in component["results"]] == [TRANSFORMATION]
    inputs = _get(service_url, "/api/search", q="receipts", stage="in", kind="table").json()
    assert inputs["results"] and all(r["table_id"].startswith("in.") for r in inputs["results"])
    dense = _get(service_url, "/api/search", q=REVENUE_QUESTION, mode="dense").json()
    assert dense["results"][0]["id"] == REVENUE_TABLE


def test_matched_on_names_the_shared_words(service_url: str) -> None:
    body = _get(service_url, "/api/search", q="daily revenue", kind="table").json()
    top = body["results"][0]
    assert top["id"] == REVENUE_TABLE
    assert any(m.startswith("name:") and "revenue" in m for m in top["matched_on"])


def test_repeated_search_is_answered_from_the_cache(service_url: str) -> None:
    params = {"q": "oven sensor readings", "limit": 5}
    first = _get(service_url, "/api/search", **params).json()
    second = _get(service_url, "/api/search", **params).json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["results"] == first["results"]
    other_limit = _get(service_url, "/api/search", q="oven sensor readings", limit=7).json()
    assert other_limit["cached"] is True  # one search of the facet pool serves every limit up to it
    assert [r["id"] for r in other_limit["results"][:5]] == [r["id"] for r in first["results"]]
    stats = _get(service_url, "/api/status").json()["service"]["cache"]
    assert stats["hits"] >= 2 and stats["misses"] >= 1


def test_concurrent_clients_all_succeed(service_url: str) -> None:
    questions = [f"{word} per day" for word in ("revenue", "rain", "oven", "receipts", "stores", "weather",
                                                 "temperature", "sheet")] * 4

    async def ask_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service_url, timeout=60) as client:
            return await asyncio.gather(*(client.get("/api/search", params={"q": q}) for q in questions))

    responses = asyncio.run(ask_all())
    assert [r.status_code for r in responses] == [200] * len(questions)
    by_question = {q: r.json()["results"] for q, r in zip(questions, responses, strict=True)}
    for question, response in zip(questions, responses, strict=True):
        assert response.json()["results"] == by_question[question]  # identical questions, identical answers


def test_objects_lineage_similar_status(service_url: str) -> None:
    table = _get(service_url, f"/api/objects/{REVENUE_TABLE}").json()
    assert table["id"] == REVENUE_TABLE and table["kind"] == "table" and "revenue_czk" in table["columns"]
    lineage = _get(service_url, f"/api/lineage/{REVENUE_TABLE}").json()
    assert TRANSFORMATION in [n["id"] for n in lineage["upstream"]]
    upstream = _get(service_url, "/api/lineage/out.c-sales.daily_revenue", project=BAKERY,
                    direction="upstream", depth=2).json()
    assert upstream["root"]["id"] == REVENUE_TABLE and upstream["downstream"] == []
    assert f"{BAKERY}/table/in.c-pos.receipts" in [n["id"] for n in upstream["upstream"]]
    similar = _get(service_url, f"/api/similar/{REVENUE_TABLE}", limit=3, kind="column").json()
    assert len(similar["results"]) == 3 and {r["kind"] for r in similar["results"]} == {"column"}
    assert REVENUE_TABLE not in [r["id"] for r in similar["results"]]
    status = _get(service_url, "/api/status").json()
    assert status["exists"] is True and status["by_project"].keys() == {str(BAKERY), str(WEATHER)}
    assert status["service"]["workers"] >= 1


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("/api/search", {"q": "  "}, 400, "query is empty"),
    ("/api/search", {"q": "x", "kind": "tablez"}, 400, "unknown kind"),
    ("/api/search", {"q": "x", "project": "marketing"}, 400, "project id"),
    ("/api/search", {"q": "x", "stage": "mid"}, 400, "unknown stage"),
    ("/api/search", {"q": "x", "limit": "lots"}, 422, "limit"),
    ("/api/search", {"q": "x", "mode": "fuzzy"}, 422, "mode"),
    ("/api/objects/701/table/in.c-nowhere.none", {}, 404, "no "),
    ("/api/lineage/in.c-nowhere.none", {}, 404, "no table or document"),
    ("/api/lineage/" + REVENUE_TABLE, {"direction": "sideways"}, 422, "direction"),
    ("/api/similar/701/table/in.c-nowhere.none", {}, 404, "no document"),
    ("/api/nothing-here", {}, 404, "no such endpoint"),
])
def test_errors_are_one_json_line_with_a_4xx_code(service_url: str, path: str, params: dict, status: int,
                                                  words: str) -> None:
    assert words in _one_line_error(_get(service_url, path, **params), status)


def test_probes_docs_and_openapi(service_url: str) -> None:
    assert _get(service_url, "/healthz").json() == {"status": "ok"}
    assert _get(service_url, "/readyz").json()["ready"] is True
    schema = _get(service_url, "/openapi.json").json()
    assert {"/api/search", "/api/status"} <= set(schema["paths"])
    search_params = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert search_params == {"q", "kind", "project", "bucket", "component", "stage", "mode", "limit", "explain"}
    docs = _get(service_url, "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assets = [line for line in docs.text.split('"') if line.endswith((".js", ".css"))]
    assert assets and all(a.startswith("/") for a in assets)  # served by the process, not a CDN
    assert all(_get(service_url, a).status_code == 200 for a in assets)


def test_page_renders_results_without_javascript(service_url: str) -> None:
    page = httpx.get(service_url + "/", params={"q": REVENUE_QUESTION, "kind": "table"}).text
    assert f'data-id="{REVENUE_TABLE}"' in page
    assert 'data-id="701/column/' not in page
    assert "kind: table" in page  # the active filter, removable
    view = httpx.get(f"{service_url}/object/{REVENUE_TABLE}").text
    assert "<svg" in view and "revenue_czk" in view and "Daily revenue per shop" in view
    assert httpx.get(f"{service_url}/object/701/table/in.c-nowhere.none").status_code == 404


def test_key_guards_api_and_mcp_not_probes(service_index: Path, embedder: Any, tmp_path: Path) -> None:
    key = "svc-key-5c1b9e"
    root = tmp_path / "qdrant"
    shutil.copytree(service_index, root)
    with start_service(root, embedder, api_key=key) as (url, _engine):
        wait_ready(url)
        missing = _get(url, "/api/search", q="shop")
        assert "API key" in _one_line_error(missing, 401) and missing.headers["www-authenticate"] == "Bearer"
        wrong = httpx.get(url + "/api/status", headers={"Authorization": "Bearer nope"})
        assert "wrong" in _one_line_error(wrong, 401) and key not in wrong.text
        assert httpx.get(url + "/mcp", headers={"Authorization": "Bearer nope"}).status_code == 401
        good = httpx.get(url + "/api/search", params={"q": "shop"}, headers={"Authorization": f"Bearer {key}"})
        assert good.status_code == 200 and good.json()["results"]
        assert httpx.get(url + "/healthz").status_code == 200 and httpx.get(url + "/readyz").status_code == 200
        assert httpx.get(url + "/", params={"q": "shop"}).status_code == 401  # the page asks for the key
        form = httpx.post(url + "/key", data={"key": key, "next": "/?q=shop"})
        assert form.status_code == 303 and form.headers["location"] == "/?q=shop"
        cookie = form.cookies["kv_key"]
        set_cookie = form.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        page = httpx.get(url + "/", params={"q": "shop"}, cookies={"kv_key": cookie})
        assert page.status_code == 200 and 'class="hit"' in page.text
        offsite = httpx.post(url + "/key", data={"key": key, "next": "//elsewhere.example/"})
        assert offsite.headers["location"] == "/"


def test_not_ready_without_an_index_then_ready_when_one_appears(tmp_path: Path, embedder: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_app, "READY_RETRY_S", 0.2)
    root = tmp_path / "qdrant"
    with start_service(root, embedder, refresh_s=0.1, settle_s=0.1) as (url, _engine):
        assert _get(url, "/healthz").status_code == 200
        time.sleep(0.5)
        not_ready = _get(url, "/readyz")
        assert not_ready.status_code == 503 and "index" in not_ready.json()["reason"]
        assert "keboola-vectorizer index" in _one_line_error(_get(url, "/api/search", q="shop"), 503)
        index_snapshot(write_mini_org(tmp_path / "org"), root, embedder)
        wait_ready(url, timeout=30)
        assert _get(url, "/api/search", q=REVENUE_QUESTION).json()["results"][0]["id"] == REVENUE_TABLE


def test_a_new_generation_is_served_without_restart(service_index: Path, embedder: Any, tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    shutil.copytree(service_index, root)
    question = "wind speed per station"
    with start_service(root, embedder, refresh_s=0.1, settle_s=0.1) as (url, _engine):
        wait_ready(url)
        before = _get(url, "/api/search", q=question, kind="table").json()
        assert _get(url, "/api/search", q=question, kind="table").json()["cached"] is True
        wind = f"{WEATHER}/table/in.c-meteo.wind"
        assert wind not in [r["id"] for r in before["results"]]
        index_snapshot(write_mini_org(tmp_path / "changed", extra_table="in.c-meteo.wind"), root, embedder)
        deadline, after = time.monotonic() + 30, before
        while time.monotonic() < deadline and after["generation"] == before["generation"]:
            time.sleep(0.2)
            after = _get(url, "/api/search", q=question, kind="table").json()
        assert after["generation"] != before["generation"] and after["cached"] is False
        assert after["results"][0]["id"] == wind
        assert _get(url, "/api/status").json()["service"]["cache"]["invalidations"] >= 1


def _mcp_call(url: str, key: str, tool: str, arguments: dict[str, Any]) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main() -> Any:
        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
                    Client(streamable_http_client(url, http_client=http)) as client):
            return await client.call_tool(tool, arguments)

    return asyncio.run(main())


def test_serve_command_starts_the_service(service_index: Path, tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    shutil.copytree(service_index, root)
    port = free_port()
    env = {**os.environ, "QDRANT_PATH": str(root), "HF_HUB_OFFLINE": "1", "KV_API_KEY": "cmd-key-1"}
    process = subprocess.Popen([sys.executable, "-m", "keboola_vectorizer.cli", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.3)
        response = httpx.get(url + "/api/search", params={"q": REVENUE_QUESTION},
                             headers={"Authorization": "Bearer cmd-key-1"})
        assert response.json()["results"][0]["id"] == REVENUE_TABLE
        assert httpx.get(url + "/api/search", params={"q": "x"}).status_code == 401
        # The same process serves MCP over streamable HTTP at /mcp, behind the same key.
        answer = _mcp_call(url + "/mcp", "cmd-key-1", "semantic_search", {"query": REVENUE_QUESTION, "limit": 3})
        assert REVENUE_TABLE in [r["id"] for r in json.loads(answer.content[0].text)["results"]]
        refused = httpx.post(url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                             headers={"Accept": "application/json, text/event-stream"})
        assert refused.status_code == 401
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "cmd-key-1" not in output

"""The bad-input matrix of the search service: the HTTP API, the MCP endpoint over HTTP and the MCP tools.

Input a caller can fix (a 1 MB query, negative and huge limits, unknown filter values, malformed JSON, a
wrong key) is a 4xx (for a tool: an error result) with one line saying what was wrong; input that is
merely unusual (unicode, control characters inside a query) is answered. Nothing is a 5xx, a traceback
or a secret. Runs against a real uvicorn over an index of tests/mini_org.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mini_org import PLANTED_SECRET
from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import wait_ready

KEY = "svc-bad-input-key-81d2"
SEEN: list[str] = []
MEGABYTE_QUERY = "revenue " * (1024 * 1024 // 8)
# A 1 MB query in a URL: httpx refuses to send a query over 64 KB, and uvicorn answers a 1 MB request
# line with `400 Invalid HTTP request received.` before the app sees it (checked by hand; a test client
# that sends it meets a connection reset while still sending). The API cases below use 56 KB.


@pytest.fixture(scope="module")
def keyed_service(service_index: Path, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The service as `serve` builds it: API and MCP at /mcp, guarded by a key."""
    from keboola_vectorizer.config import load_settings
    from keboola_vectorizer.engine import SearchEngine
    from keboola_vectorizer.service.app import create_app
    from keboola_vectorizer.service.mcp_mount import mcp_mount_for
    from tests.service_server import running_service

    root = tmp_path_factory.mktemp("bad-input") / "qdrant"
    shutil.copytree(service_index, root)
    engine = SearchEngine(load_settings(qdrant_path=root), embedder_factory=lambda meta: embedder)
    try:
        with running_service(create_app(engine, api_key=KEY, mcp=mcp_mount_for(engine, KEY))) as url:
            wait_ready(url)
            yield url
    finally:
        engine.close()


def _one_line(response: httpx.Response, status: int, quoted: int = 0) -> str:
    """The one-line error of a 4xx answer (`quoted`: characters of the caller's input it may repeat)."""
    SEEN.append(response.text)
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert "\n" not in error and "Traceback" not in error and len(error) < 400 + quoted, error[:400]
    return error


def _get(url: str, path: str, key: str | None = KEY, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url + path, params=params, headers=headers, timeout=60)


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"q": "revenue " * 7000}, 400, "too long"),
    ({"q": "x" * 5000}, 400, "too long"),
    ({"q": "revenue", "limit": "-1"}, 422, "limit"),
    ({"q": "revenue", "limit": "0"}, 422, "limit"),
    ({"q": "revenue", "limit": str(10**12)}, 422, "limit"),
    ({"q": "revenue", "limit": "1e3"}, 422, "limit"),
    ({"q": "revenue", "kind": "tablez"}, 400, "unknown kind"),
    ({"q": "revenue", "stage": "sideways"}, 400, "unknown stage"),
    ({"q": "revenue", "project": "-x"}, 400, "project id"),
    ({"q": "revenue", "mode": "psychic"}, 422, "mode"),
    ({"q": "   "}, 400, "query is empty"),
], ids=["56KB-query", "5000-chars", "limit-negative", "limit-zero", "limit-huge", "limit-float", "unknown-kind",
        "unknown-stage", "project-not-a-number", "unknown-mode", "blank"])
def test_bad_search_input_is_a_4xx_with_one_line(keyed_service: str, params: dict[str, Any], status: int,
                                                 words: str) -> None:
    response = httpx.get(keyed_service + "/api/search", params=params,
                         headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert words in _one_line(response, status)


@pytest.mark.parametrize("query", ["čerstvé pečivo 🥐", "receipts\x1b[31m red\x07", "收据 عائدات", "a\u202eb",
                                   "revenue\ttab\r\nline", "\x00\x01\x02"],
                         ids=["czech-emoji", "ansi-bell", "cjk-arabic", "rtl-override", "whitespace", "only-control"])
def test_unusual_but_valid_queries_are_answered(keyed_service: str, query: str) -> None:
    response = _get(keyed_service, "/api/search", q=query)
    SEEN.append(response.text)
    assert response.status_code == 200, response.text[:300]
    assert isinstance(response.json()["results"], list)


@pytest.mark.parametrize(("path", "key", "status", "words"), [
    ("/api/search?q=revenue", "wrong-key", 401, "wrong"),
    ("/api/search?q=revenue", None, 401, "API key"),
    ("/api/objects/" + "9" * 5000, KEY, 404, "no table or document"),
    ("/api/lineage/x?depth=99", KEY, 422, "depth"),
    ("/api/lineage/x?depth=-1", KEY, 422, "depth"),
    ("/api/similar/x?limit=100000", KEY, 422, "limit"),
], ids=["wrong-key", "no-key", "huge-id", "depth-huge", "depth-negative", "similar-limit-huge"])
def test_other_bad_requests(keyed_service: str, path: str, key: str | None, status: int, words: str) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(keyed_service + path, headers=headers, timeout=60)
    assert words in _one_line(response, status, quoted=len(path))
    assert KEY not in response.text


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": 7}).encode(), "application/json"),
    (b"[]", "application/json"),
], ids=["malformed-json", "binary", "wrong-method-type", "empty-batch"])
def test_malformed_json_to_mcp_over_http_is_a_4xx(keyed_service: str, body: bytes, content_type: str) -> None:
    response = httpx.post(keyed_service + "/mcp", content=body, timeout=60,
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": content_type,
                                   "Accept": "application/json, text/event-stream"})
    SEEN.append(response.text)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and len(response.text.splitlines()) <= 3


def test_mcp_over_http_with_a_wrong_key_is_401(keyed_service: str) -> None:
    response = httpx.post(keyed_service + "/mcp", content=b"{}", headers={"Authorization": "Bearer nope"})
    SEEN.append(response.text)
    assert response.status_code == 401 and KEY not in response.text


@pytest.fixture(scope="module")
def mcp_server(mini_index: Path, embedder: Any) -> Any:
    from keboola_vectorizer.config import load_settings
    from keboola_vectorizer.engine import SearchEngine
    from keboola_vectorizer.mcp_server import build_mcp_server

    engine = SearchEngine(load_settings(qdrant_path=mini_index), embedder_factory=lambda meta: embedder)
    yield build_mcp_server(engine)
    engine.close()


def _call(server: Any, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    import asyncio

    from mcp import Client

    async def main() -> Any:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    result = asyncio.run(main())
    text = result.content[0].text
    SEEN.append(text)
    return bool(result.is_error), text


@pytest.mark.parametrize(("tool", "arguments", "words"), [
    ("semantic_search", {"query": MEGABYTE_QUERY}, "too long"),
    ("semantic_search", {"query": "revenue", "limit": "lots"}, "limit must be a whole number"),
    ("semantic_search", {"query": "revenue", "kinds": "tablez"}, "unknown kind"),
    ("semantic_search", {"query": "revenue", "project_ids": "marketing"}, "project"),
    ("semantic_search", {"query": "revenue", "stage": "sideways"}, "stage"),
    ("semantic_search", {"query": "  "}, "query is empty"),
    ("get_objects", {"ids": []}, "no ids given"),
    ("get_lineage", {"table": "in.c-nowhere.none"}, "no table or document"),
], ids=["1MB-query", "limit-not-a-number", "unknown-kind", "project-not-a-number", "unknown-stage",
        "blank", "no-ids", "unknown-table"])
def test_bad_tool_input_is_an_error_result_with_one_line(mcp_server: Any, tool: str, arguments: dict[str, Any],
                                                         words: str) -> None:
    is_error, text = _call(mcp_server, tool, arguments)
    assert is_error, text[:300]
    assert words in text and "\n" not in text.strip() and "Traceback" not in text and len(text) < 400, text[:400]


@pytest.mark.xfail(strict=True, reason="the mcp SDK reports arguments that fail its schema as a multi-line pydantic "
                   "error (mcp/server/mcpserver/tools/base.py); keboola_vectorizer/mcp_server does not reword it yet")
def test_an_unknown_or_missing_tool_argument_is_one_line(mcp_server: Any) -> None:
    is_error, text = _call(mcp_server, "get_lineage", {"table_id": "in.c-nowhere.none"})
    assert is_error and "\n" not in text.strip(), text


@pytest.mark.parametrize("query", ["čerstvé pečivo 🥐", "receipts\x1b[31m red\x07", "收据 عائدات", "\x00\x1b"],
                         ids=["czech-emoji", "ansi-bell", "cjk-arabic", "only-control"])
def test_unusual_but_valid_tool_queries_are_answered(mcp_server: Any, query: str) -> None:
    is_error, text = _call(mcp_server, "semantic_search", {"query": query})
    assert not is_error, text[:300]
    assert isinstance(json.loads(text)["results"], list)


@pytest.mark.parametrize(("limit", "capped_to"), [(-5, 1), (0, 1), (10**9, None)], ids=["negative", "zero", "huge"])
def test_out_of_range_tool_limits_are_capped_and_said_so(mcp_server: Any, limit: int, capped_to: int | None) -> None:
    """The MCP tools are tolerant by design (an agent's guess at a limit should not cost a round trip):
    an out-of-range limit is capped to the range and the answer says so."""
    is_error, text = _call(mcp_server, "semantic_search", {"query": "revenue", "limit": limit})
    assert not is_error, text[:300]
    answer = json.loads(text)
    assert answer["limit_capped_to"] == (capped_to or answer["limit_capped_to"]) and answer["limit_capped_to"] >= 1


def test_no_secret_in_any_response() -> None:
    """Runs last in this module: the planted secret and the key appear in no response above."""
    assert SEEN, "the matrix above produced no responses"
    assert not [text[:200] for text in SEEN if PLANTED_SECRET in text or KEY in text]

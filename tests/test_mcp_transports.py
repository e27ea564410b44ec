"""`keboola-vectorizer mcp` as a process: stdio (what desktop assistants launch) and streamable HTTP on
loopback with an API key, through the real mcp client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.mini_org import PLANTED_SECRET, REVENUE_QUESTION, REVENUE_TABLE

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "kv-test-api-key-5d1e0b7a93"
COMMAND = [sys.executable, "-m", "keboola_vectorizer.cli", "mcp"]


def _env(index: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("QDRANT_URL", "KV_API_KEY")}
    return {**env, "QDRANT_PATH": str(index), "HF_HUB_OFFLINE": "1", "KV_SECRETS_DIR": str(index / "no-secrets"),
            **extra}


def test_stdio_subprocess_answers_through_the_sdk_client(mini_index: Path) -> None:
    params = StdioServerParameters(command=COMMAND[0], args=COMMAND[1:], cwd=str(ROOT),
                                   env=_env(mini_index, KV_API_KEY=API_KEY))

    async def main() -> tuple[list[str], Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            tools = await client.list_tools()
            answer = await client.call_tool("semantic_search", {"query": REVENUE_QUESTION, "limit": 5})
            return [t.name for t in tools.tools], answer

    names, answer = asyncio.run(main())
    assert sorted(names) == ["find_similar", "get_lineage", "get_objects", "index_status", "semantic_search"]
    data = json.loads(answer.content[0].text)
    assert REVENUE_TABLE in [r["id"] for r in data["results"]]


def test_stdio_stdout_carries_nothing_but_protocol(mini_index: Path) -> None:
    """Raw JSON-RPC over the pipes: every stdout line is a JSON-RPC message, logs go to stderr."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "semantic_search", "arguments": {"query": REVENUE_QUESTION, "limit": 3}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "semantic_search",
                                                                       "arguments": {"query": ""}}},
    ]
    process = subprocess.Popen([*COMMAND[:-1], "--verbose", "mcp"], cwd=ROOT,
                               env=_env(mini_index, KV_API_KEY=API_KEY), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdin is not None and process.stdout is not None
        answers: dict[int, Any] = {}
        lines: list[str] = []
        for message in messages:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
            if "id" not in message:
                continue
            while message["id"] not in answers:
                line = process.stdout.readline()
                assert line, "the server closed stdout"
                lines.append(line)
                parsed = json.loads(line)
                assert parsed["jsonrpc"] == "2.0"
                if "id" in parsed:
                    answers[parsed["id"]] = parsed
        rest, stderr = process.communicate(timeout=60)  # closes stdin: the server sees EOF and exits
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    for line in [*lines, *rest.splitlines()]:
        assert json.loads(line)["jsonrpc"] == "2.0"
    found = json.loads(answers[2]["result"]["content"][0]["text"])
    assert REVENUE_TABLE in [r["id"] for r in found["results"]]
    assert answers[3]["result"]["isError"] and "query is empty" in answers[3]["result"]["content"][0]["text"]
    assert "DEBUG" in stderr or "INFO" in stderr  # --verbose logs went to stderr, none to stdout
    assert API_KEY not in stderr and API_KEY not in "".join(lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def http_server(mini_index: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    process = subprocess.Popen([*COMMAND, "--transport", "http", "--port", str(port)], cwd=ROOT,
                               env=_env(mini_index, KV_API_KEY=API_KEY), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.3)
    yield base, process
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def _call(url: str, key: str | None, tool: str, arguments: dict[str, Any]) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with (httpx2.AsyncClient(headers=headers, timeout=60) as http,
                    Client(streamable_http_client(url, http_client=http)) as client):
            return await client.call_tool(tool, arguments)

    return asyncio.run(main())


def test_http_wants_the_api_key(http_server: tuple[str, subprocess.Popen[str]]) -> None:
    base, _ = http_server
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for auth in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": API_KEY}):
        refused = httpx.post(f"{base}/mcp", json=initialize, headers={**headers, **auth}, timeout=10)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert API_KEY not in refused.text and "KV_API_KEY" in refused.json()["error"]
    accepted = httpx.post(f"{base}/mcp", json=initialize,
                          headers={**headers, "Authorization": f"Bearer {API_KEY}"}, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["result"]["serverInfo"]["name"] == "keboola-vectorizer"
    with pytest.raises(Exception):  # noqa: B017 - the SDK client fails the connection on 401
        _call(f"{base}/mcp", None, "index_status", {})


def test_http_answers_with_the_key(http_server: tuple[str, subprocess.Popen[str]]) -> None:
    base, process = http_server
    answer = _call(f"{base}/mcp", API_KEY, "semantic_search", {"query": REVENUE_QUESTION, "limit": 5})
    data = json.loads(answer.content[0].text)
    assert REVENUE_TABLE in [r["id"] for r in data["results"]]
    status = json.loads(_call(f"{base}/mcp", API_KEY, "index_status", {}).content[0].text)
    assert status["exists"] and status["points"] > 0
    objects = _call(f"{base}/mcp", API_KEY, "get_objects",
                    {"ids": ["701/configuration/keboola.ex-db-mysql/4001"]}).content[0].text
    for text in (answer.content[0].text, objects, json.dumps(status)):
        assert API_KEY not in text and PLANTED_SECRET not in text

"""MCP server benchmark: per-tool latency p50/p95 over stdio and streamable HTTP, and response sizes.

Starts `keboola-vectorizer mcp` as a process twice (stdio; `--transport http` on loopback with an API
key) and calls each of the five tools --calls times through the real mcp client, one session per
transport (what an assistant holds). The time is the client's: JSON-RPC framing, the transport, tool
input validation, the engine (query embedding, Qdrant Edge, re-ranking) and the response budget.
Sizes are the tool's text content in characters and estimated tokens (the server's own budget figures).

The index: --qdrant-path (an existing one), else --snapshot DIR (default: the generated demo
organisation) indexed with the real model into --workdir, or with --size N the stand-in index of about
N documents that bench_search.py builds (real BM25, payloads and filters; stand-in dense vectors).

    python scripts/bench_mcp.py                          # the generated demo organisation
    python scripts/bench_mcp.py --size 100000 --workdir /tmp/keboola-vectorizer-bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

# Written for this benchmark: everyday data questions, not taken from any question set.
QUERIES = ["revenue per day", "customer email addresses", "orders and their status", "marketing campaign costs",
           "which flow runs every night", "product catalogue with prices", "invoices that are unpaid",
           "website sessions and page views", "employees and departments", "stock levels in warehouses"]
API_KEY = "bench-mcp-key-not-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def build_index(args: argparse.Namespace) -> tuple[Path, str]:
    if args.qdrant_path:
        return Path(args.qdrant_path), "given"
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.size:
        from bench_search import ensure_index

        path, kind, _ = ensure_index(workdir, args.size)
        return path, kind
    from keboola_vectorizer.demo_org.cache import demo_snapshot_dir
    from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder
    from keboola_vectorizer.keboola.snapshot import Snapshot
    from keboola_vectorizer.pipeline import run_index
    from keboola_vectorizer.store.edge import EdgeStore

    snapshot = Path(args.snapshot) if args.snapshot else demo_snapshot_dir()
    root = workdir / f"mcp-{snapshot.name}"
    store = EdgeStore(root)
    try:
        run_index(Snapshot(snapshot), store, create_embedder(EmbeddingSettings(provider="local")))
    finally:
        store.close()
    return root, "model"


def plan(first: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Arguments per tool, from the index itself (ids of the first search's results)."""
    results = first["results"]
    ids = [r["id"] for r in results] or ["none"]
    tables = [r["id"] for r in results if r["kind"] == "table"] or ids
    return {
        "semantic_search": [{"query": q, "limit": 10} for q in QUERIES],
        "get_objects": [{"ids": ids[i: i + 3]} for i in range(0, max(1, len(ids) - 2))],
        "get_lineage": [{"table": t, "depth": 2} for t in tables],
        "find_similar": [{"id": i, "limit": 10} for i in ids],
        "index_status": [{}],
    }


async def measure(client: Any, calls: int) -> dict[str, Any]:
    first = json.loads((await client.call_tool("semantic_search", {"query": QUERIES[0]})).content[0].text)
    figures: dict[str, Any] = {}
    for tool, variants in plan(first).items():
        times, chars, tokens, errors = [], [], [], 0
        for i in range(calls):
            started = time.perf_counter()
            result = await client.call_tool(tool, variants[i % len(variants)])
            times.append((time.perf_counter() - started) * 1000)
            text = result.content[0].text
            if result.is_error:
                errors += 1
                continue
            budget = json.loads(text)["budget"]
            chars.append(budget["chars"])
            tokens.append(budget["est_tokens"])
        figures[tool] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
                         "chars_median": int(statistics.median(chars)) if chars else None,
                         "chars_max": max(chars) if chars else None,
                         "est_tokens_median": int(statistics.median(tokens)) if tokens else None,
                         "calls": calls, "errors": errors}
    return figures


def env_for(index: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QDRANT_URL",)}
    return {**env, "QDRANT_PATH": str(index), "HF_HUB_OFFLINE": "1", "KV_API_KEY": API_KEY}


async def over_stdio(index: Path, calls: int) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "keboola_vectorizer.cli", "mcp"],
                                   env=env_for(index), cwd=str(ROOT))
    started = time.perf_counter()
    async with Client(params, read_timeout_seconds=300) as client:
        ready = time.perf_counter() - started
        figures = await measure(client, calls)
    return {"startup_to_initialized_s": round(ready, 2), "tools": figures}


async def over_http(index: Path, calls: int) -> dict[str, Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "keboola_vectorizer.cli", "mcp", "--transport", "http",
                                "--port", str(port)], env=env_for(index), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base, started = f"http://127.0.0.1:{port}", time.perf_counter()
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300) as http:
            while True:
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx2.HTTPError:
                    await asyncio.sleep(0.2)
                if process.poll() is not None:
                    raise SystemExit("the HTTP server exited")
            ready = time.perf_counter() - started
            async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                figures = await measure(client, calls)
        return {"startup_to_healthy_s": round(ready, 2), "tools": figures}
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qdrant-path", help="An existing index to serve.")
    parser.add_argument("--snapshot", help="Snapshot to index (default: the generated demo organisation).")
    parser.add_argument("--size", type=int, help="A stand-in index of about this many documents (bench_search).")
    parser.add_argument("--workdir", default="/tmp/keboola-vectorizer-bench")
    parser.add_argument("--calls", type=int, default=40, help="Calls per tool and transport.")
    args = parser.parse_args()
    index, kind = build_index(args)
    from bench_index import machine

    from keboola_vectorizer.store.edge import EdgeStore

    store = EdgeStore(index)
    try:
        points = store.count()
    finally:
        store.close()
    report = {"index": {"path": str(index), "points": points, "vectors": kind}, "machine": machine(),
              "stdio": asyncio.run(over_stdio(index, args.calls)),
              "http": asyncio.run(over_http(index, args.calls))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

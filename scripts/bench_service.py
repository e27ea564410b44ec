"""Latency of the search service under concurrent clients, the cache's effect, and the cold CLI
through KV_SERVICE_URL. Prints one JSON object.

Builds an index of the generated demo organisation (or `--snapshot DIR`) in a temporary QDRANT_PATH
unless `--qdrant-path` names an existing one (e.g. a 100k-document index), starts `keboola-vectorizer serve`
on a free loopback port, and drives it with httpx clients. Uncached figures use a distinct question
per request (every one embeds and queries); cached figures repeat a small set.

    python scripts/bench_service.py                      # the generated demo organisation
    python scripts/bench_service.py --qdrant-path DIR    # an existing index
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

# Questions a data team asks, in our own words; numbered variants make every request distinct.
QUESTIONS = [
    "monthly revenue by customer", "where are the orders stored", "which table has customer emails",
    "campaign spend per day", "transformation that joins orders and products", "churned customers last month",
    "invoices not paid yet", "website sessions by source", "product catalogue with prices",
    "flow that runs every night", "extractor loading data from a database", "support tickets per agent",
    "ad impressions and clicks", "inventory levels per warehouse", "employee list with departments",
    "exchange rates table", "shipping costs by carrier", "newsletter subscribers", "sales targets for the quarter",
    "customer lifetime value", "google analytics data", "raw events before cleaning", "table with country codes",
    "python transformation", "snowflake writer", "data about users signing up", "daily active users",
    "refunds and returns", "marketing budget", "payment transactions",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keboola_vectorizer.cli", *args], env=env, capture_output=True,
                          text=True, check=False)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))], 2)


async def drive(base_url: str, clients: int, queries: list[str]) -> dict[str, Any]:
    """`clients` concurrent clients working through `queries`; latency per request in ms."""
    latencies: list[float] = []
    errors = 0
    pending = list(reversed(queries))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while pending:
            query = pending.pop()
            started = time.perf_counter()
            try:
                response = await http.get("/api/search", params={"q": query})
                ok = response.status_code == 200 and response.json()["results"]
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    seconds = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "errors": errors,
            "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99), "mean_ms": round(statistics.fmean(latencies), 2),
            "throughput_rps": round(len(latencies) / seconds, 1)}


def build_index(env: dict[str, str], snapshot: Path | None) -> str:
    if snapshot is None:
        from keboola_vectorizer.demo_org.cache import demo_snapshot_dir

        snapshot = demo_snapshot_dir()
    done = cli(["index", "--snapshot", str(snapshot), "--json"], env)
    if done.returncode != 0:
        raise SystemExit(f"index --snapshot {snapshot} failed: {done.stderr.strip()}")
    return str(snapshot)


def wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit("serve exited before it was ready")
        try:
            if httpx.get(base_url + "/readyz").status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("serve did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qdrant-path", type=Path, help="an existing index (default: build one)")
    parser.add_argument("--snapshot", type=Path, help="snapshot to index (default: the generated demo organisation)")
    parser.add_argument("--requests", type=int, default=240, help="uncached requests per concurrency level")
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kv-bench-service-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the index it built: ~250 MB that nothing reads again


def run(args: argparse.Namespace, work: Path) -> None:
    qdrant_path = args.qdrant_path or work / "qdrant"
    env = {**os.environ, "QDRANT_PATH": str(qdrant_path), "HF_HUB_OFFLINE": "1"}
    env.pop("KV_SERVICE_URL", None)
    env.pop("KV_API_KEY", None)
    # Figures from a shared machine mean little without its load: reported at the start and the end.
    report: dict[str, Any] = {"index": str(qdrant_path), "cores": os.cpu_count(),
                              "load_average_start": [round(x, 1) for x in os.getloadavg()]}
    if args.qdrant_path is None:
        report["snapshot"] = build_index(env, args.snapshot)
    status = json.loads(cli(["status", "--json"], env).stdout)
    report["points"] = status.get("points")

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "keboola_vectorizer.cli", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        report["ready_after_s"] = round(wait_ready(base_url, process), 2)
        asyncio.run(drive(base_url, 4, [f"warm up {q}" for q in QUESTIONS[:8]]))
        levels = []
        for clients in (1, 8, 32):
            distinct = [f"{QUESTIONS[i % len(QUESTIONS)]} {clients}-{i}" for i in range(args.requests)]
            levels.append({**asyncio.run(drive(base_url, clients, distinct)), "cache": "miss (distinct questions)"})
        repeated = QUESTIONS * max(1, args.requests // len(QUESTIONS))
        asyncio.run(drive(base_url, 8, QUESTIONS))  # fill the cache
        for clients in (1, 8, 32):
            levels.append({**asyncio.run(drive(base_url, clients, repeated)), "cache": "hit (repeated questions)"})
        report["levels"] = levels
        report["errors"] = sum(level["errors"] for level in levels)
        report["goal_p95_ms_at_8_clients"] = 100
        miss_8 = next(lv for lv in levels if lv["clients"] == 8 and lv["cache"].startswith("miss"))
        report["goal_met"] = miss_8["p95_ms"] <= 100 and report["errors"] == 0
        report["service_cache"] = httpx.get(base_url + "/api/status").json()["service"]

        # An installed package runs from bytecode (pip writes it): let the discarded first run of each
        # write it even where the environment forbids it, as bench_search.py does.
        cold_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        remote_env = {**cold_env, "KV_SERVICE_URL": base_url, "QDRANT_PATH": str(work / "unused")}
        timings: dict[str, list[float]] = {"through_service": [], "local": []}
        # One kind after the other, not interleaved: each kind's cost alone (the first local load after
        # the service's copy still folds tracker journals in, which the service reloads for once).
        for name, run_env in (("through_service", remote_env), ("local", cold_env)):
            for i in range(args.cli_runs + 1):
                started = time.perf_counter()
                done = cli(["search", f"{QUESTIONS[i % len(QUESTIONS)]} cli", "--json"], run_env)
                if i:  # the first run fills the OS page cache and the bytecode
                    timings[name].append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise SystemExit(f"cli search ({name}) failed: {done.stderr.strip()}")
        report["cold_cli_s"] = {name: {"median": round(statistics.median(values), 3),
                                       "min": round(min(values), 3), "runs": [round(v, 3) for v in values]}
                                for name, values in timings.items()}
    finally:
        process.terminate()
        process.wait(timeout=30)
    report["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

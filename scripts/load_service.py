"""Load the search service: 32 concurrent clients for 60 s with mixed queries, filters, similar, lineage and
status requests; prints one JSON object with the request count, errors (anything but a 200), p50/p95/p99
and the secret scan over every response and the service's log.

Starts `keboola-vectorizer serve` (with KV_API_KEY set to a planted key the clients send) over
`--qdrant-path`, or over a fresh `index --sample` in a temporary directory, on a free loopback port.

    python scripts/load_service.py                                # 60 s, 32 clients, bundled organisation
    python scripts/load_service.py --qdrant-path DIR --seconds 60 --clients 32
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_service", HERE / "bench_service.py")
bench = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(bench)  # type: ignore[union-attr]

PLANTED_KEY = "kv-load-key-3f9c2e71d4"
KINDS = ["table", "column", "configuration", "bucket", "configuration_row"]


def _request(rng: random.Random, projects: list[str], ids: list[str]) -> tuple[str, dict[str, Any]]:
    """One request of the mix: mostly searches with 0-3 filters, some similar, lineage and status."""
    roll = rng.random()
    if roll < 0.70 or not ids:
        params: dict[str, Any] = {"q": f"{rng.choice(bench.QUESTIONS)} {rng.randrange(10_000)}",
                                  "limit": rng.choice([5, 10, 20, 50])}
        if rng.random() < 0.4:
            params["kind"] = ",".join(rng.sample(KINDS, rng.randint(1, 2)))
        if projects and rng.random() < 0.3:
            params["project"] = rng.choice(projects)
        if rng.random() < 0.15:
            params["stage"] = rng.choice(["in", "out"])
        if rng.random() < 0.2:
            params["mode"] = rng.choice(["dense", "sparse"])
        return "/api/search", params
    if roll < 0.85:
        return f"/api/similar/{rng.choice(ids)}", {"limit": 5}
    if roll < 0.95:
        table = next((i for i in rng.sample(ids, len(ids)) if "/table/" in i), ids[0])
        return f"/api/lineage/{table}", {}
    return "/api/status", {}


async def load(base_url: str, clients: int, seconds: float, projects: list[str], ids: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    bodies: list[str] = []
    deadline = time.monotonic() + seconds

    async def client(number: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(number)
        while time.monotonic() < deadline:
            path, params = _request(rng, projects, ids)
            started = time.perf_counter()
            try:
                response = await http.get(path, params=params)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {path}: {response.text[:200]}")
                if len(bodies) < 5000:
                    bodies.append(response.text)
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__} {path}")
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {PLANTED_KEY}"}
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits, headers=headers) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    took = time.perf_counter() - started
    return {"clients": clients, "seconds": round(took, 1), "requests": len(latencies), "errors": len(failures),
            "first_errors": failures[:5], "p50_ms": bench.percentile(latencies, 0.50),
            "p95_ms": bench.percentile(latencies, 0.95), "p99_ms": bench.percentile(latencies, 0.99),
            "max_ms": round(max(latencies), 1), "throughput_rps": round(len(latencies) / took, 1),
            "key_in_responses": sum(PLANTED_KEY in body for body in bodies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qdrant-path", type=Path, help="an existing index (default: build the bundled org)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kv-load-service-"))
    qdrant_path = args.qdrant_path or work / "qdrant"
    env = {**os.environ, "QDRANT_PATH": str(qdrant_path), "HF_HUB_OFFLINE": "1", "KV_API_KEY": PLANTED_KEY}
    env.pop("KV_SERVICE_URL", None)
    report: dict[str, Any] = {"index": str(qdrant_path), "cores": os.cpu_count(),
                              "load_average_start": [round(x, 1) for x in os.getloadavg()]}
    if args.qdrant_path is None:
        bench.build_index(env)
    port = bench.free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = work / "serve.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "keboola_vectorizer.cli", "serve", "--port", str(port)],
                                   env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            report["ready_after_s"] = round(bench.wait_ready(base_url, process), 2)
            headers = {"Authorization": f"Bearer {PLANTED_KEY}"}
            status = httpx.get(base_url + "/api/status", headers=headers).json()
            report["points"] = status.get("points")
            projects = list(status.get("by_project", {}))
            seed = httpx.get(base_url + "/api/search", params={"q": "orders customers revenue", "limit": 50},
                             headers=headers).json()
            ids = [r["id"] for r in seed["results"]]
            report["load"] = asyncio.run(load(base_url, args.clients, args.seconds, projects, ids))
        finally:
            process.terminate()
            process.wait(timeout=30)
    report["key_in_service_log"] = PLANTED_KEY in log_path.read_text(errors="replace")
    report["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    clean = report["load"]["errors"] == 0 and not report["load"]["key_in_responses"] \
        and not report["key_in_service_log"]
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())

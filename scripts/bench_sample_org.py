"""Figures for the spine on the generated demo organisation (`index --sample`):
documents per second for a full index, seconds for an unchanged rerun, warm search latency p50/p95
over 100 queries (hybrid, the default). Prints a table; run with the machine otherwise idle.

    .venv/bin/python scripts/bench_sample_org.py [--queries 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from keboola_vectorizer.demo_org import QUESTIONS, demo_snapshot_dir
from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.search import search
from keboola_vectorizer.store.edge import EdgeStore


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    sample = demo_snapshot_dir()
    questions = [json.loads(line)["query"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    queries = [questions[i % len(questions)] for i in range(args.queries)]
    embedder = create_embedder(EmbeddingSettings(provider="local"))
    embedder.embed_query("warm up the model")
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp))
        started = time.perf_counter()
        full = run_index(Snapshot(sample), store, embedder)
        full_s = time.perf_counter() - started
        started = time.perf_counter()
        rerun = run_index(Snapshot(sample), store, embedder)
        rerun_s = time.perf_counter() - started
        for query in queries[:5]:
            search(store, lambda: embedder, query)
        latencies = []
        for query in queries:
            started = time.perf_counter()
            search(store, lambda: embedder, query, limit=10)
            latencies.append((time.perf_counter() - started) * 1000)
        store.close()
    rows = [
        ("documents", f"{full.extracted}"),
        ("full index, seconds", f"{full_s:.1f}"),
        ("full index, documents/s", f"{full.extracted / full_s:.1f}"),
        ("  of which embedding, seconds", f"{full.seconds.get('embed', 0):.1f}"),
        ("unchanged rerun, seconds", f"{rerun_s:.2f} (embedded {rerun.embedded})"),
        (f"hybrid search p50 ms ({len(latencies)} warm queries)", f"{statistics.median(latencies):.1f}"),
        ("hybrid search p95 ms", f"{percentile(latencies, 95):.1f}"),
    ]
    print(f"# demo organisation benchmark — {platform.node()}, {platform.processor() or platform.machine()}, "
          f"{time.strftime('%Y-%m-%d')}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()

"""Search benchmark: warm latency per mode and filter, concurrent throughput, cold command wall time.

For each size N it needs an index of about N documents: the one `bench_index.py --keep-stores` left in
--workdir (dense vectors from the real model), or else one it builds from the generated snapshot with
stand-in dense vectors (random unit vectors per text; BM25, payloads and filters are real). Latency
depends on the number of points and the HNSW graph, not on what the vectors mean, but the table says
which kind of index each figure comes from.

  warm         `keboola_vectorizer.search.search()` in one process, model session and store open:
               query embedding (ONNX Runtime, or PyTorch with --backend torch) + BM25 + one Qdrant
               Edge query (hybrid: two prefetches fused with RRF) + the table/column re-ranking,
               the limit 10; queries from the sample organisation's development questions, cycled.
               Filters: none; kind = table; one project.
  concurrent   --threads threads sharing one store and one embedder, hybrid, no filter: queries/s.
  cold         `keboola-vectorizer search QUERY --json` as a new process (imports, settings, store open,
               model session load, query, rendering), wall time median and max of --cold-runs.

    python scripts/bench_search.py --sizes 10000 100000 --workdir /tmp/keboola-vectorizer-bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_index import StandInEmbedder, machine, snapshot_for  # noqa: E402

from keboola_vectorizer.demo_org import QUESTIONS  # noqa: E402
from keboola_vectorizer.keboola.snapshot import Snapshot  # noqa: E402
from keboola_vectorizer.store.base import SearchFilters  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402

MODES = ("dense", "sparse", "hybrid")


def queries() -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def ensure_index(workdir: Path, size: int) -> tuple[Path, str, int]:
    """(QDRANT_PATH, "model" or "stand-in", points) for about `size` documents."""
    kept = workdir / f"store-{size}"
    if (kept / "VECTORS").is_file():
        store = EdgeStore(kept)
        try:
            if store.meta() is not None:
                return kept, f"{(kept / 'VECTORS').read_text().strip()} (bench_index)", store.count()
        finally:
            store.close()
    root = workdir / f"search-store-{size}"
    store = EdgeStore(root)
    try:
        if store.meta() is None or not (root / "keboola-metadata" / "COMPLETE").is_file():
            store.close()
            import shutil

            shutil.rmtree(root, ignore_errors=True)
            store = EdgeStore(root)
            snapshot, _ = snapshot_for(workdir, size)
            from keboola_vectorizer.pipeline import run_index

            started = time.perf_counter()
            summary = run_index(Snapshot(snapshot), store, StandInEmbedder())
            print(f"  built a stand-in index of {summary.extracted} documents in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            (root / "keboola-metadata" / "COMPLETE").write_text("ok")
        return root, "stand-in", store.count()
    finally:
        store.close()


def warm(store: EdgeStore, embedder: Any, args: argparse.Namespace, project_id: int) -> dict[str, Any]:
    from keboola_vectorizer.search import search

    texts = queries()
    filters = {"none": SearchFilters(), "kind=table": SearchFilters(kinds=["table"]),
               "project": SearchFilters(project_ids=[project_id])}
    for text in texts[:10]:  # warm the session, the shard's pages and the caches
        search(store, lambda: embedder, text, mode="hybrid")
    results: dict[str, Any] = {}
    for mode in MODES:
        for label, chosen in filters.items():
            times = []
            for i in range(args.queries):
                start = time.perf_counter()
                search(store, lambda: embedder, texts[i % len(texts)], mode=mode, filters=chosen, limit=10)
                times.append((time.perf_counter() - start) * 1000)
            results[f"{mode}/{label}"] = {f"p{q}": round(percentile(times, q), 2) for q in (50, 95, 99)}
    embed_times = []
    for i in range(args.queries):
        start = time.perf_counter()
        embedder.embed_query(texts[i % len(texts)])
        embed_times.append((time.perf_counter() - start) * 1000)
    results["query embedding only"] = {f"p{q}": round(percentile(embed_times, q), 2) for q in (50, 95, 99)}
    return results


def concurrent(store: EdgeStore, embedder: Any, args: argparse.Namespace) -> dict[str, Any]:
    from keboola_vectorizer.search import search

    texts = queries()
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    per_thread = max(1, args.concurrent_queries // args.threads)

    def worker(offset: int) -> None:
        mine = []
        try:
            for i in range(per_thread):
                start = time.perf_counter()
                search(store, lambda: embedder, texts[(offset + i) % len(texts)], mode="hybrid", limit=10)
                mine.append((time.perf_counter() - start) * 1000)
        except BaseException as exc:  # report, do not hang the benchmark
            errors.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(args.threads)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise SystemExit(f"concurrent search failed: {errors[0]!r}")
    return {"threads": args.threads, "queries": len(latencies), "qps": round(len(latencies) / wall, 1),
            "p50_ms": round(percentile(latencies, 50), 2), "p95_ms": round(percentile(latencies, 95), 2)}


def cold(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = str(Path(sys.executable).with_name("keboola-vectorizer"))
    env = {**os.environ, "QDRANT_PATH": str(root), "DD_DOGSTATSD_DISABLE": "true"}
    # An installed package runs from bytecode (pip writes it): let the discarded first run write it
    # even where the environment forbids it, so the timed runs do not compile every module.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.backend != "auto":
        env["KEBOOLA_VECTORIZER_EMBEDDING_BACKEND"] = args.backend
    texts = queries()
    walls = []
    for i in range(args.cold_runs + 1):
        start = time.perf_counter()
        done = subprocess.run([command, "search", texts[i % len(texts)], "--json"], env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"cold search failed: {done.stderr[-2000:]}")
        if i:  # the first run fills the OS page cache (a fresh process, not a fresh machine)
            walls.append(wall)
    return {"runs": len(walls), "median_s": round(statistics.median(walls), 3), "max_s": round(max(walls), 3)}


def bench_size(args: argparse.Namespace, size: int) -> dict[str, Any]:
    root, vectors, points = ensure_index(args.workdir, size)
    print(f"N={size}: {points} points ({vectors}) in {root}", file=sys.stderr, flush=True)
    os.environ["KEBOOLA_VECTORIZER_EMBEDDING_BACKEND"] = args.backend
    from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder

    embedder = create_embedder(EmbeddingSettings(provider="local", local_backend=args.backend))
    store = EdgeStore(root)
    try:
        project_id = int(next(iter(store.counts_by("project_id"))))
        result: dict[str, Any] = {"requested": size, "points": points, "vectors": vectors,
                                  "warm": warm(store, embedder, args, project_id)}
        result["backend"] = embedder.backend
        result["concurrent"] = concurrent(store, embedder, args)
    finally:
        store.close()
    result["cold"] = cold(root, args)
    return result


def table(results: list[dict[str, Any]]) -> str:
    header = "| warm search latency, ms (p50 / p95 / p99) | " + " | ".join(
        f"N = {r['points']:,} ({r['vectors']})" for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for key in results[0]["warm"]:
        lines.append(f"| {key} | " + " | ".join(
            " / ".join(f"{v:.1f}" for v in r["warm"][key].values()) for r in results) + " |")
    lines.append("| concurrent hybrid, queries/s (threads) | " + " | ".join(
        f"{r['concurrent']['qps']:.0f} ({r['concurrent']['threads']}; p95 {r['concurrent']['p95_ms']:.0f} ms)"
        for r in results) + " |")
    lines.append("| cold `keboola-vectorizer search`, s (median / max) | " + " | ".join(
        f"{r['cold']['median_s']:.2f} / {r['cold']['max_s']:.2f}" for r in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/keboola-vectorizer-bench"))
    parser.add_argument("--queries", type=int, default=200, help="timed queries per mode and filter")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--concurrent-queries", type=int, default=400)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("DD_DOGSTATSD_DISABLE", "true")
    args.workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    results = [bench_size(args, size) for size in args.sizes]
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.out:
        args.out.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    print(f"\n{datetime.now(timezone.utc).isoformat(timespec='seconds')}  {info['cpu']}, {info['cores']} cores; "
          f"load average {info['load_average_start']} -> {info['load_average_end']}; "
          f"query embedding: {results[0]['backend']}")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

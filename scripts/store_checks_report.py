"""Print what the embedded store's integrity checks cost (store/edge_manifest.py) on an existing index.

    .venv/bin/python scripts/store_checks_report.py [--path QDRANT_PATH] [--collection NAME]

The open check (sizes of the recorded files, no reads) runs on every open of the shard; the digest
check runs only in `doctor`; recording runs when a writer closes the shard (incremental: only files
whose size or modification time changed are hashed again). A store without a manifest gets one recorded
first (the full, non-incremental cost). Nothing else in the store is changed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keboola_vectorizer.config import load_settings  # noqa: E402
from keboola_vectorizer.store import edge_manifest  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402


def _timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=settings.qdrant_path)
    parser.add_argument("--collection", default=settings.qdrant_collection)
    args = parser.parse_args()
    store = EdgeStore(args.path, args.collection)
    gen_dir = store.generation_dir()
    if gen_dir is None or not (gen_dir / "shard").is_dir():
        print(f"no index at {args.path}", file=sys.stderr)
        return 1
    points = store.count()
    store.close()
    if edge_manifest.status(gen_dir) != "closed":
        first = _timed(lambda: edge_manifest.record(gen_dir), 1)[0]
        print(f"recorded a manifest first (every file hashed): {first * 1000:.0f} ms")
    files = len(edge_manifest._shard_files(gen_dir / "shard"))
    size = sum(s.st_size for s in edge_manifest._shard_files(gen_dir / "shard").values())
    print(f"store: {points} points, {files} recorded files, {size / 2**20:.0f} MiB apparent size")
    opens = _timed(lambda: edge_manifest.check_sizes(gen_dir, lambda: ""), 50)
    print(f"open check (sizes): median {statistics.median(opens) * 1000:.2f} ms, max {max(opens) * 1000:.2f} ms "
          f"over 50 runs")
    records = _timed(lambda: edge_manifest.record(gen_dir), 5)
    print(f"record after a write, nothing changed (incremental): median {statistics.median(records) * 1000:.1f} ms")
    verifies = _timed(lambda: edge_manifest.verify(gen_dir), 3)
    print(f"doctor digest check (reads every file): median {statistics.median(verifies) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

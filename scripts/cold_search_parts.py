#!/usr/bin/env python3
"""Where a cold local `search` spends its time: each phase of the CLI's search path, in new processes.

Each run is a fresh interpreter that goes the CLI's way (cli/commands/querying.py): import the CLI,
read the settings, open the store, start the query vector on its second thread, load the shard, wait
for the vector, rank, and then rank a second question (what the first one's page-ins cost). The
index is the one QDRANT_PATH / KV_* point at, as for the CLI.

    QDRANT_PATH=/tmp/keboola-vectorizer-bench/search-store-100000 python scripts/cold_search_parts.py --runs 5

Prints one row per phase: the median and the range over the runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PHASES = ("import the CLI", "settings and store", "model runtime imported", "shard loaded", "query vector ready",
          "first search", "second search")

# Runs in the child: the CLI's own calls, timed.
_CHILD = r"""
import json, sys, time
started = time.perf_counter()
marks = []
def mark(): marks.append(time.perf_counter())
from keboola_vectorizer.cli import render  # noqa: F401  (the CLI imports it with its commands)
from keboola_vectorizer.cli.context import Invocation
from keboola_vectorizer.search import ensure_searchable, query_vector_aside, search
mark()
query, second = sys.argv[1], sys.argv[2]
invocation = Invocation(as_process=True)
with invocation.open_store(read_only=True) as store:
    mark()
    embedder = invocation.lazy_embedder(store)
    with query_vector_aside(embedder, query, "hybrid") as query_dense:
        mark()
        ensure_searchable(store)
        mark()
        vector = query_dense()
        mark()
        search(store, embedder, query, query_dense=vector)
        mark()
        search(store, embedder, second)
        mark()
steps, previous = [], started
for at in marks:
    steps.append(1000 * (at - previous))
    previous = at
print("PHASES " + json.dumps(steps))
"""


def one_run(query: str, second: str) -> list[float]:
    done = subprocess.run([sys.executable, "-c", _CHILD, query, second], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("PHASES ")), None)
    if done.returncode != 0 or line is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"error: the timed search failed ({last}); check QDRANT_PATH points at an index")
    return json.loads(line.removeprefix("PHASES "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--query", default="where is monthly churn by customer?")
    parser.add_argument("--second", default="orders by country and month")
    args = parser.parse_args()
    runs = [one_run(args.query, args.second) for _ in range(args.runs)]
    print(f"| phase (ms, {args.runs} cold processes) | median | min | max |")
    print("|---|---:|---:|---:|")
    for index, phase in enumerate(PHASES):
        values = [run[index] for run in runs]
        print(f"| {phase} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} |")
    totals = [sum(run[:-1]) for run in runs]
    print(f"| **to the first answer** | {statistics.median(totals):.0f} | {min(totals):.0f} | {max(totals):.0f} |")


if __name__ == "__main__":
    main()

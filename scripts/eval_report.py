#!/usr/bin/env python3
"""The search quality figures: one eval table for dense, sparse and hybrid search (and hybrid with the
recency/usage boost) through the real CLI, next to a name-substring baseline (what a plain search
box over object names finds).

    QDRANT_PATH=/tmp/kv-eval python scripts/eval_report.py --index       # index the sample org first
    python scripts/eval_report.py --questions my-questions.jsonl --snapshot my-snapshot

The modes run `keboola-vectorizer eval --json` against the index at QDRANT_PATH / QDRANT_URL; the
baseline reads the documents of the snapshot (the bundled sample organisation by default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from keboola_vectorizer.demo_org import QUESTIONS, demo_snapshot_dir
from keboola_vectorizer.evaluate import NameSubstringRanker, evaluate, load_questions
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def _cli() -> list[str]:
    exe = shutil.which("keboola-vectorizer") or str(Path(sys.executable).with_name("keboola-vectorizer"))
    return [exe] if Path(exe).exists() else [sys.executable, "-m", "keboola_vectorizer.cli"]


def run_cli(*args: str) -> dict:
    done = subprocess.run([*_cli(), *args], capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        sys.exit(f"keboola-vectorizer {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--snapshot", type=Path, default=None,
                        help="snapshot for the baseline (default: the demo organisation)")
    parser.add_argument("--index", action="store_true", help="run `index` on the snapshot first")
    parser.add_argument("--no-boost", action="store_true", help="leave out the hybrid + boost row")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--misses", action="store_true", help="list the hybrid misses")
    args = parser.parse_args()

    if args.index:
        run_cli("index", *(["--snapshot", str(args.snapshot)] if args.snapshot else ["--sample"]), "--json")
    rows: dict[str, dict] = {}
    questions = load_questions(args.questions)
    snapshot = Snapshot(args.snapshot or demo_snapshot_dir())
    baseline = NameSubstringRanker((d.id, d.payload) for d in iter_documents(snapshot))
    rows["name substring"] = evaluate(questions, baseline)
    for mode in ("dense", "sparse", "hybrid"):
        rows[mode] = run_cli("eval", "--questions", str(args.questions), "--mode", mode, "--json")
    if not args.no_boost:
        rows["hybrid + boost"] = run_cli("eval", "--questions", str(args.questions), "--mode", "hybrid",
                                         "--boost", "--json")
    if args.json:
        print(json.dumps({name: {k: v for k, v in row.items() if k != "misses"} for name, row in rows.items()},
                         indent=2))
        return
    print(f"{len(questions)} questions from {args.questions}\n")
    print("| mode | " + " | ".join(METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[m]:.3f}" for m in METRICS) + " |")
    if args.misses:
        print("\nhybrid misses (recall@5 < 1):")
        for miss in rows["hybrid"]["misses"]:
            print(f"- {miss['query']!r}: rank {miss['rank']}, expected {miss['relevant']}")


if __name__ == "__main__":
    main()

"""The int8 quality gate: each eval set indexed with fp32 and with int8 weights, scored by
`keboola-vectorizer eval`, and the differences printed (int8 may be the default only if every set is
within 0.01 on recall@1, recall@5 and MRR@10).

    python scripts/eval_weights.py [--set NAME=SNAPSHOT_DIR:QUESTIONS_FILE ...] [--cache /tmp/kv-eval]

Without --set it scores the generated demo organisation. Indexes are kept in --cache between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

METRICS = ("recall@1", "recall@5", "mrr@10")
CLI = [sys.executable, "-m", "keboola_vectorizer.cli"]


def score(name: str, snapshot: str, questions: str, weights: str, cache: Path) -> dict[str, float]:
    env = {**os.environ, "QDRANT_PATH": str(cache / f"{name}-{weights}"), "KV_ONNX_WEIGHTS": weights,
           "HF_HUB_OFFLINE": "1"}
    if not (cache / f"{name}-{weights}" / "done").exists():
        subprocess.run([*CLI, "index", "--snapshot", snapshot, "--rebuild"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        (cache / f"{name}-{weights}" / "done").write_text("indexed\n")
    out = subprocess.run([*CLI, "eval", "--questions", questions, "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[], help="NAME=SNAPSHOT_DIR:QUESTIONS_FILE")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kv-eval-weights"))
    args = parser.parse_args()
    sets = [(s.split("=", 1)[0], *s.split("=", 1)[1].split(":", 1)) for s in args.set]
    if not sets:
        from keboola_vectorizer.demo_org import QUESTIONS
        from keboola_vectorizer.demo_org.cache import demo_snapshot_dir

        sets = [("demo", str(demo_snapshot_dir()), str(QUESTIONS))]
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"{'set':<10} {'weights':<7} " + " ".join(f"{m:>9}" for m in METRICS) + "  queries")
    worst = 0.0
    for name, snapshot, questions in sets:
        results = {w: score(name, snapshot, questions, w, args.cache) for w in ("fp32", "int8")}
        for weights, result in results.items():
            print(f"{name:<10} {weights:<7} " + " ".join(f"{result[m]:>9.4f}" for m in METRICS)
                  + f"  {result['queries']}")
        deltas = {m: results["int8"][m] - results["fp32"][m] for m in METRICS}
        worst = min(worst, *deltas.values())
        print(f"{name:<10} {'delta':<7} " + " ".join(f"{deltas[m]:>+9.4f}" for m in METRICS), flush=True)
    print(f"gate (every delta >= -0.01): {'PASS' if worst >= -0.01 else 'FAIL'} (worst {worst:+.4f})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Every question set at once: one table of hit@k, recall@k, MRR@10 and nDCG@10 with 95% intervals.

Each set is `SNAPSHOT_DIR[:QUESTIONS.jsonl[,MORE.jsonl]]` (without questions: every questions*.jsonl
in the snapshot directory). Each snapshot is indexed once into a cached Edge store under --cache
(/tmp/kv-eval-<digest of the snapshot's files>); later runs reuse it and only re-embed documents whose
text changed (run_index is incremental), so a ranking change costs seconds, not an index build.

    python scripts/eval_all.py ../shared/sample-org \\
        ../shared/external/bird-dev:../shared/external/bird-dev-tables.jsonl \\
        --rankings-dir /tmp/kv-rank-after --compare-dir /tmp/kv-rank-before --groups --confidence

--rankings-dir writes each set's per-question top 10; --compare-dir prints the paired difference
against an earlier --rankings-dir (mean delta, 95% interval, questions better and worse).
--confidence reports how often the "no good match" signal fires on answered questions and on the
same questions with their answers removed from the candidates.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder  # noqa: E402
from keboola_vectorizer.eval_stats import compare_rankings, read_rankings  # noqa: E402
from keboola_vectorizer.evaluate import METRICS, evaluate, filters_from_json, load_questions  # noqa: E402
from keboola_vectorizer.keboola.snapshot import Snapshot  # noqa: E402
from keboola_vectorizer.pipeline import run_index  # noqa: E402
from keboola_vectorizer.ranking.confidence import LOW_CONFIDENCE  # noqa: E402
from keboola_vectorizer.ranking.stages import BASELINE, Ranking  # noqa: E402
from keboola_vectorizer.search import search  # noqa: E402
from keboola_vectorizer.store.base import SearchFilters  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402

SHOWN = ("hit@1", "hit@5", "recall@5", "mrr@10", "ndcg@10")


@dataclass
class QuestionSet:
    label: str
    snapshot: Path
    questions: Path


def parse_sets(specs: list[str]) -> list[QuestionSet]:
    sets = []
    for spec in specs:
        snapshot_part, _, questions_part = spec.partition(":")
        snapshot = Path(snapshot_part).resolve()
        files = ([Path(q).resolve() for q in questions_part.split(",") if q] if questions_part
                 else sorted(snapshot.glob("questions*.jsonl")))
        if not (snapshot / "projects.json").is_file() or not files:
            sys.exit(f"{spec}: needs a snapshot directory (projects.json) and a questions file")
        sets.extend(QuestionSet(f"{snapshot.name}/{q.stem}", snapshot, q) for q in files)
    return sets


def snapshot_digest(snapshot: Path) -> str:
    """Content digest of every file of a snapshot: an unchanged snapshot reuses its cached store."""
    digest = hashlib.sha256(str(snapshot).encode())
    for path in sorted(p for p in snapshot.rglob("*") if p.is_file() and p.suffix != ".jsonl"):
        digest.update(str(path.relative_to(snapshot)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def cached_store(snapshot: Path, cache: Path, embedder: Any) -> tuple[EdgeStore, float]:
    """Open (and bring up to date) the cached index of `snapshot`; seconds spent indexing."""
    path = cache.parent / f"{cache.name}-{snapshot_digest(snapshot)}"
    store = EdgeStore(path)
    started = time.perf_counter()
    summary = run_index(Snapshot(snapshot), store, embedder)
    if summary.embedded:
        print(f"indexed {snapshot} into {path}: {summary.embedded} documents embedded", file=sys.stderr)
    return store, time.perf_counter() - started


def ranker_for(store: EdgeStore, embedder: Any, mode: str, timings: list[float], **options: Any) -> Any:
    def rank(query: str, filters: SearchFilters, limit: int) -> list[str]:
        started = time.perf_counter()
        results = search(store, lambda: embedder, query, mode=mode, filters=filters, limit=limit, **options)
        timings.append(time.perf_counter() - started)
        return [r.id for r in results]

    return rank


def is_low(confidence: float | None) -> bool:
    return confidence is not None and confidence < LOW_CONFIDENCE


def confidence_rates(store: EdgeStore, embedder: Any, questions_file: Path, mode: str) -> dict[str, float]:
    """How often `low confidence` fires on answered questions, and with the answers taken away."""
    fired_answered = fired_removed = total = 0
    for question in load_questions(questions_file):
        filters = filters_from_json(question.filters)
        answered = search(store, lambda: embedder, question.query, mode=mode, filters=filters, limit=10)
        removed = search(store, lambda: embedder, question.query, mode=mode, filters=filters, limit=10,
                         exclude=question.relevant)
        fired_answered += bool(answered) and is_low(answered[0].confidence)
        fired_removed += not removed or is_low(removed[0].confidence)
        total += 1
    return {"fires_answered": round(fired_answered / total, 3), "fires_removed": round(fired_removed / total, 3)}


def ranking_from(overrides: list[str]) -> Ranking:
    ranking = Ranking()
    for override in overrides:
        if override == "baseline":
            ranking = BASELINE
            continue
        name, _, value = override.partition("=")
        current = getattr(ranking, name)
        if isinstance(current, bool):
            parsed: bool | int | float = value.lower() in ("1", "true")
        else:
            parsed = int(value) if isinstance(current, int) else float(value)
        ranking = replace(ranking, **{name: parsed})
    return ranking


def cell(row: dict[str, Any], metric: str) -> str:
    low, high = row["intervals"][metric] if "intervals" in row else row[f"{metric}_ci"]
    return f"{row[metric]:.3f} [{low:.2f}-{high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="SNAPSHOT_DIR[:QUESTIONS.jsonl[,...]]")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kv-eval"), help="store cache prefix")
    parser.add_argument("--mode", default="hybrid", choices=("hybrid", "dense", "sparse"))
    parser.add_argument("--rankings-dir", type=Path, help="write each set's rankings here")
    parser.add_argument("--compare-dir", type=Path, help="paired comparison against these rankings")
    parser.add_argument("--groups", action="store_true", help="also print the per-kind/class rows")
    parser.add_argument("--confidence", action="store_true", help="fire rates of the low-confidence signal")
    parser.add_argument("--weights", default="fp32", choices=("fp32", "int8"),
                        help="the local model's ONNX weights (the int8 quality gate); give int8 its own --cache")
    parser.add_argument("--query-weights", choices=("fp32", "int8"),
                        help="embed the questions with these weights instead of --weights' (documents in int8, "
                             "questions in fp32)")
    parser.add_argument("--ranking", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a ranking.stages.Ranking weight (ablations); 'baseline' for none")
    args = parser.parse_args()
    ranking = ranking_from(args.ranking)

    embedder = create_embedder(EmbeddingSettings(provider="local", onnx_weights=args.weights))
    query_embedder = (create_embedder(EmbeddingSettings(provider="local", onnx_weights=args.query_weights))
                      if args.query_weights else embedder)
    stores: dict[Path, EdgeStore] = {}
    header = "| set | n | " + " | ".join(SHOWN) + " | ms/query (mean, p95) |"
    lines = [header, "|---|---:|" + "---:|" * (len(SHOWN) + 1)]
    comparisons, rates = [], []
    try:
        for qset in parse_sets(args.sets):
            if qset.snapshot not in stores:
                stores[qset.snapshot], _ = cached_store(qset.snapshot, args.cache, embedder)
            store = stores[qset.snapshot]
            rankings = None
            if args.rankings_dir:
                args.rankings_dir.mkdir(parents=True, exist_ok=True)
                rankings = args.rankings_dir / f"{qset.label.replace('/', '__')}.jsonl"
            timings: list[float] = []
            result = evaluate(load_questions(qset.questions),
                              ranker_for(store, query_embedder, args.mode, timings, ranking=ranking), rankings=rankings)
            ordered = sorted(timings)
            cost = f"{1000 * sum(ordered) / len(ordered):.1f}, {1000 * ordered[int(0.95 * (len(ordered) - 1))]:.1f}"
            lines.append(f"| {qset.label} | {result['queries']} | "
                         + " | ".join(cell(result, m) for m in SHOWN) + f" | {cost} |")
            if args.groups:
                for group, row in result["by_group"].items():
                    lines.append(f"| &nbsp; {group} | {row['n']} | " + " | ".join(cell(row, m) for m in SHOWN)
                                 + " | |")
            if args.compare_dir and rankings:
                before = args.compare_dir / rankings.name
                if before.is_file():
                    comparisons.append((qset.label, compare_rankings(read_rankings(before),
                                                                     read_rankings(rankings), METRICS)))
            if args.confidence:
                rates.append((qset.label, confidence_rates(store, query_embedder, qset.questions, args.mode)))
    finally:
        for store in stores.values():
            store.close()
    print("\n".join(lines))
    if comparisons:
        print("\n| set | metric | before | after | delta [95% interval] | better | worse |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for label, comparison in comparisons:
            for metric in SHOWN:
                row = comparison[metric]
                mark = " *" if row["significant"] else ""
                print(f"| {label} | {metric} | {row['before']:.3f} | {row['after']:.3f} | {row['delta']:+.3f} "
                      f"[{row['delta_ci'][0]:+.3f}, {row['delta_ci'][1]:+.3f}]{mark} | {row['better']} | "
                      f"{row['worse']} |")
    if rates:
        print("\n| set | low confidence on answered | low confidence with answer removed |")
        print("|---|---:|---:|")
        for label, rate in rates:
            print(f"| {label} | {rate['fires_answered']:.3f} | {rate['fires_removed']:.3f} |")


if __name__ == "__main__":
    main()

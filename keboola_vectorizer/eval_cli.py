"""The `eval` command's work and rendering: one eval over a questions file, or a paired comparison."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from keboola_vectorizer.eval_stats import compare_rankings, read_rankings
from keboola_vectorizer.evaluate import METRICS, evaluate, load_questions
from keboola_vectorizer.logging_setup import scrub
from keboola_vectorizer.store.base import Boost, SearchFilters, SearchMode, VectorStore

console = Console()


def _print_json(data: Any) -> None:
    sys.stdout.write(scrub(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def run_eval(store: VectorStore, embedder: Callable[[], Any], questions: Path, *, mode: SearchMode,
             boost: Boost | None, rankings: Path | None, as_json: bool) -> dict[str, Any]:
    from keboola_vectorizer.search import ensure_searchable, search

    loaded = load_questions(questions)
    ensure_searchable(store)

    def ranker(query: str, filters: SearchFilters, limit: int) -> list[str]:
        return [r.id for r in search(store, embedder, query, mode=mode, filters=filters, limit=limit,
                                     boost=boost)]

    result = evaluate(loaded, ranker, rankings=rankings)
    result["mode"] = mode
    result["boost"] = boost is not None
    if as_json:
        _print_json(result)
        return result
    table = Table(title=f"Eval ({mode}{', boost' if boost else ''}, {result['queries']} queries; "
                        "95% bootstrap intervals)")
    table.add_column("group")
    table.add_column("n", justify="right")
    for key in METRICS:
        table.add_column(key, justify="right")
    overall = {**{k: result[k] for k in METRICS}, **{f"{k}_ci": result["intervals"][k] for k in METRICS},
               "n": result["queries"]}
    for name, row in [("all", overall), *result["by_group"].items()]:
        table.add_row(name, str(row["n"]), *(f"{row[k]:.3f} [{row[f'{k}_ci'][0]:.2f}, {row[f'{k}_ci'][1]:.2f}]"
                                              for k in METRICS))
    console.print(table)
    for miss in result["misses"]:
        console.print(f"[yellow]miss[/] {miss['query']!r}: expected {miss['relevant']}, rank {miss['rank']}",
                      highlight=False, markup=True)
    return result


def compare_command(before: Path, after: Path, as_json: bool) -> dict[str, Any]:
    result = compare_rankings(read_rankings(before), read_rankings(after), METRICS)
    if as_json:
        _print_json(result)
        return result
    table = Table(title=f"Paired comparison over {result['queries']} questions: {after} vs {before}")
    for column in ("metric", "before", "after", "delta", "95% interval", "better", "worse", ""):
        table.add_column(column, justify="right")
    for key in METRICS:
        row = result[key]
        table.add_row(key, f"{row['before']:.3f}", f"{row['after']:.3f}", f"{row['delta']:+.3f}",
                      f"[{row['delta_ci'][0]:+.3f}, {row['delta_ci'][1]:+.3f}]", str(row["better"]),
                      str(row["worse"]), "significant" if row["significant"] else "noise")
    console.print(table)
    return result

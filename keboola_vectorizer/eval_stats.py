"""Telling a gain from noise: bootstrap intervals, per-kind breakdowns and paired comparisons.

A question set of a few dozen questions moves by several points of MRR when two questions swap, so a
figure without an interval cannot say whether a change helped. Intervals are percentile bootstrap
intervals over questions (resampled with replacement); a paired comparison resamples the per-question
differences of two rankings of the same questions, which is much tighter than comparing two intervals.
The seed is fixed so the same inputs print the same intervals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keboola_vectorizer.errors import ConfigError

RESAMPLES = 1000
SEED = 20240601
HEADLINE = ("hit@1", "hit@5", "recall@5", "mrr@10", "ndcg@10")


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def bootstrap_interval(values: Sequence[float], resamples: int = RESAMPLES,
                       seed: int = SEED) -> tuple[float, float]:
    """95% percentile interval of the mean of `values`."""
    if not values:
        return (0.0, 0.0)
    data = np.asarray(values, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(data), size=(resamples, len(data)))
    low, high = np.percentile(data[picks].mean(axis=1), [2.5, 97.5])
    return (round(float(low), 4), round(float(high), 4))


def summarize(per_question: list[dict[str, float]], metrics: Sequence[str]) -> dict[str, Any]:
    """Means and 95% intervals of `metrics` over per-question scores."""
    out: dict[str, Any] = {"n": len(per_question)}
    for metric in metrics:
        values = [q[metric] for q in per_question]
        out[metric] = round(mean(values), 4)
        out[f"{metric}_ci"] = list(bootstrap_interval(values))
    return out


def kind_of(document_id: str) -> str:
    """The kind part of a document id (`9001/table/...` -> table)."""
    parts = document_id.split("/")
    return parts[1] if len(parts) > 2 else "unknown"


def question_groups(relevant: Sequence[str], question_class: str | None) -> list[str]:
    """The groups a question is reported under: each kind of its relevant objects, and its class."""
    groups = [f"kind:{k}" for k in sorted({kind_of(d) for d in relevant})]
    if question_class:
        groups.append(f"class:{question_class}")
    return groups


def breakdown(per_question: list[dict[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in per_question:
        for group in row["groups"]:
            grouped.setdefault(group, []).append(row["scores"])
    return {group: summarize(rows, metrics) for group, rows in sorted(grouped.items())}


def write_rankings(path: Path, rows: list[dict[str, Any]]) -> None:
    """One line per question: query, relevant, groups and the top 10 ids (what `--compare` reads)."""
    path.write_text("".join(json.dumps({k: row[k] for k in ("query", "relevant", "groups", "top")},
                                       ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def read_rankings(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"rankings file {path} does not exist", "write it with `eval --rankings FILE`")
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row["query"], row["relevant"], row["top"] = str(row["query"]), list(row["relevant"]), list(row["top"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"rankings file {path} is not the format `eval --rankings` writes",
                          "write it again with `eval --rankings FILE`") from None
    return rows


CUTOFFS = (1, 5, 10)


def score_ranking(ranked: list[str], relevant: list[str]) -> dict[str, float]:
    """Recall and hit at each cutoff, MRR@10 and nDCG@10 of one ranking (here so that evaluate.py
    and the paired comparison share it without importing each other)."""
    relevant_set = set(relevant)
    scores: dict[str, float] = {}
    for k in CUTOFFS:
        found = len(relevant_set & set(ranked[:k]))
        scores[f"recall@{k}"] = found / len(relevant_set)
        scores[f"hit@{k}"] = 1.0 if found else 0.0
    reciprocal = 0.0
    for position, doc_id in enumerate(ranked[:10], start=1):
        if doc_id in relevant_set:
            reciprocal = 1.0 / position
            break
    scores["mrr@10"] = reciprocal
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant_set)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant_set), 10)))
    scores["ndcg@10"] = dcg / ideal if ideal else 0.0
    return scores


def compare_rankings(before: list[dict[str, Any]], after: list[dict[str, Any]],
                     metrics: Sequence[str]) -> dict[str, Any]:
    """Paired difference after - before per metric: mean, 95% interval, questions better/worse."""
    if [(r["query"], r["relevant"]) for r in before] != [(r["query"], r["relevant"]) for r in after]:
        raise ConfigError("the two rankings files hold different questions",
                          "compare rankings of the same questions file, in the same order")
    result: dict[str, Any] = {"queries": len(before)}
    scored = [(score_ranking(b["top"], b["relevant"]), score_ranking(a["top"], a["relevant"]))
              for b, a in zip(before, after, strict=True)]
    for metric in metrics:
        deltas = [a[metric] - b[metric] for b, a in scored]
        low, high = bootstrap_interval(deltas)
        result[metric] = {"before": round(mean([b[metric] for b, _ in scored]), 4),
                          "after": round(mean([a[metric] for _, a in scored]), 4),
                          "delta": round(mean(deltas), 4), "delta_ci": [low, high],
                          "better": sum(d > 0 for d in deltas), "worse": sum(d < 0 for d in deltas),
                          "significant": low > 0 or high < 0}
    return result

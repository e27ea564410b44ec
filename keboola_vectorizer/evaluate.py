"""Retrieval quality over a questions file: hit@k and recall@k (k = 1, 5, 10), MRR@10, nDCG@10, with
bootstrap 95% intervals, a breakdown by kind of the relevant object (and by question class when the
file has one), the misses, and optionally each question's top 10 (for a paired comparison)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.eval_stats import breakdown, question_groups, score_ranking, summarize, write_rankings
from keboola_vectorizer.store.base import SearchFilters


@dataclass
class Question:
    query: str
    relevant: list[str]
    filters: dict[str, Any]
    question_class: str | None = None


def load_questions(path: Path) -> list[Question]:
    if not path.is_file():
        raise ConfigError(f"questions file {path} does not exist", "pass --questions with a JSON Lines file")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question_class = row.get("class")
            questions.append(Question(str(row["query"]), [str(r) for r in row["relevant"]],
                                      dict(row.get("filters") or {}),
                                      str(question_class) if question_class else None))
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"questions file {path} line {number} is not "
                              '{"query": ..., "relevant": [...]}',
                              "fix that line (format in design.md)") from None
    if not questions:
        raise ConfigError(f"questions file {path} holds no questions", "add JSON Lines questions")
    return questions


def filters_from_json(data: dict[str, Any]) -> SearchFilters:
    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    return SearchFilters(
        project_ids=[int(v) for v in as_list(data.get("project_id", data.get("project", [])))],
        kinds=as_list(data.get("kind", [])),
        bucket_ids=as_list(data.get("bucket_id", data.get("bucket", []))),
        component_ids=as_list(data.get("component_id", data.get("component", []))),
        stages=as_list(data.get("stage", [])),
    )


METRICS = ("hit@1", "hit@5", "hit@10", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def evaluate(questions: list[Question], ranker: Callable[[str, SearchFilters, int], list[str]], *,
             rankings: Path | None = None) -> dict[str, Any]:
    """Mean metrics over `questions` with intervals; `ranker(query, filters, limit)` returns ids.

    The top-level metric keys stay plain floats (scripts read them); `intervals` holds their 95%
    bootstrap intervals and `by_group` the same figures per kind of relevant object and class.
    """
    rows: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for question in questions:
        ranked = ranker(question.query, filters_from_json(question.filters), 10)
        scores = score_ranking(ranked, question.relevant)
        rows.append({"query": question.query, "relevant": question.relevant, "top": ranked[:10],
                     "scores": scores, "groups": question_groups(question.relevant, question.question_class)})
        if scores["recall@5"] < 1.0:
            misses.append({"query": question.query, "relevant": question.relevant, "top": ranked[:5],
                           "recall@5": round(scores["recall@5"], 4),
                           "rank": next((i + 1 for i, d in enumerate(ranked) if d in question.relevant), None)})
    summary = summarize([row["scores"] for row in rows], METRICS)
    result: dict[str, Any] = {key: summary[key] for key in METRICS}
    result["intervals"] = {key: summary[f"{key}_ci"] for key in METRICS}
    result["by_group"] = breakdown(rows, METRICS)
    result["queries"] = len(questions)
    result["misses"] = misses
    if rankings is not None:
        write_rankings(rankings, rows)
    return result


_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "into", "is", "it", "its",
    "of", "on", "or", "per", "that", "the", "their", "them", "these", "this", "to", "was", "what", "which",
    "who", "with", "where", "when", "all", "any", "each", "my", "our", "your", "show", "find", "get", "list",
})


class NameSubstringRanker:
    """The baseline: what a plain name search box finds. A document scores the number of query
    words (stop words dropped) that occur in its name as substrings; ties go to the shorter name.
    """

    def __init__(self, documents: Iterable[tuple[str, dict[str, Any]]]) -> None:
        self._docs = [(doc_id, str(payload.get("name") or doc_id).lower(), payload) for doc_id, payload in documents]

    def __call__(self, query: str, filters: SearchFilters, limit: int) -> list[str]:
        words = [w for w in re.findall(r"\w+", query.lower()) if w not in _STOPWORDS and len(w) > 1]
        wanted = filters.by_field()
        scored = []
        for doc_id, name, payload in self._docs:
            if any(payload.get(key) not in values for key, values in wanted.items()):
                continue
            hits = sum(1 for w in words if w in name)
            if hits:
                scored.append((-hits, len(name), doc_id))
        return [doc_id for _, _, doc_id in sorted(scored)[:limit]]

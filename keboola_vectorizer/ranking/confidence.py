"""How sure a result is, and why it ranks where it does (`search --explain`).

Confidence reads the absolute signals search has, which ranks do not give, combined in a logistic
model: the cosine similarity of the query to the result (or to its best matching column or row); how
far that cosine stands above the rest of the dense candidates, in standard deviations (long questions
have low cosines throughout, so the cosine alone calls them weak); and the share of the question's
words the result's text holds. The weights were fitted on answered questions against the same
questions with their answers removed, each question set weighing the same, and checked leaving each
set out in turn (sample organisation, BIRD and the demo organisation's questions); the intercept puts
the "no good match" line where it fires on about one answered question in ten.
`scripts/eval_all.py --confidence` prints both fire rates per set. A result the question names
(identity) is confident, and so is an answer found through a name (the flow running the named task,
the readers of the named table).
"""

from __future__ import annotations

import math
from typing import Any

from keboola_vectorizer.ranking.intent import QUESTION_WORDS
from keboola_vectorizer.ranking.words import content_words, word_set

LOW_CONFIDENCE = 0.5  # below this the best result is "no good match"
# Log-odds weights of the three signals, and the intercept (see the module docstring).
COSINE_WEIGHT = 0.9
STANDOUT_WEIGHT = 0.7  # per standard deviation above the dense candidates' mean cosine
COVERAGE_WEIGHT = 0.8
INTERCEPT = -2.15
IDENTITY_CONFIDENT = 0.5  # identity strength that alone makes a result confident


def _cosine(note: dict[str, Any], notes: dict[str, dict]) -> float | None:
    own = note.get("dense_score")
    part = notes.get(str(note.get("matched_part")), {}).get("dense_score") if note.get("matched_part") else None
    values = [v for v in (own, part) if v is not None]
    return max(values) if values else None


def word_coverage(query: str, text: str) -> float:
    """Share of the question's content words that the result's text holds."""
    asked = set(content_words(query, QUESTION_WORDS))
    return len(asked & word_set(text)) / len(asked) if asked else 0.0


def dense_pool(notes: dict[str, dict]) -> tuple[float, float] | None:
    """Mean and standard deviation of the dense candidates' cosines (None below two candidates)."""
    pool = [float(n["dense_score"]) for n in notes.values() if "dense_score" in n]
    if len(pool) < 2:
        return None
    mean = sum(pool) / len(pool)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in pool) / len(pool))


def _standout(cosine: float, pool: tuple[float, float] | None) -> float:
    """How many standard deviations `cosine` lies above the dense candidates' mean."""
    if pool is None:
        return 0.0
    mean, spread = pool
    return (cosine - mean) / spread if spread > 1e-9 else 0.0


def match_confidence(note: dict[str, Any], notes: dict[str, dict], coverage: float = 0.0,
                     pool: tuple[float, float] | None = None) -> float | None:
    """0-1, or None when the search had no dense retriever (sparse mode).

    `pool` is `dense_pool(notes)` when the caller rates several results of one search."""
    cosine = _cosine(note, notes)
    named = max(note.get("identity", 0.0), note.get("anchor_identity", 0.0)) >= IDENTITY_CONFIDENT
    if cosine is None:
        return 1.0 if named else None
    if pool is None:
        pool = dense_pool(notes)
    odds = (INTERCEPT + COSINE_WEIGHT * cosine + STANDOUT_WEIGHT * _standout(cosine, pool)
            + COVERAGE_WEIGHT * coverage)
    confidence = round(1.0 / (1.0 + math.exp(-odds)), 4)
    return max(0.9, confidence) if named else confidence


def explanation(note: dict[str, Any], notes: dict[str, dict]) -> dict[str, Any]:
    """What `--explain` shows: each retriever's rank and score, the matched part, and every boost."""
    out: dict[str, Any] = {key: note[key] for key in ("dense_rank", "dense_score", "sparse_rank", "sparse_score",
                                                       "identity", "kind_intent", "runs", "project_named",
                                                       "project_evidence", "lineage") if key in note}
    part = note.get("matched_part")
    if part:
        part_note = notes.get(str(part), {})
        name = str(note.get("matched_part_name") or str(part).rsplit(".", 1)[-1])
        out["matched"] = {"id": part, "name": name,
                          **{k: part_note[k] for k in ("dense_rank", "sparse_rank") if k in part_note}}
    return out


def no_good_match(confidence: float | None) -> str | None:
    """The text output's warning line when even the best result is a weak match."""
    if confidence is None or confidence >= LOW_CONFIDENCE:
        return None
    return (f"No good match: the best result is a weak match (confidence {confidence:.2f}); "
            "try other words, or check the object is indexed.")


def explain_line(explain: dict[str, Any]) -> str:
    """One line of `--explain` text from the explain fields."""
    parts = []
    for name in ("dense", "sparse"):
        if f"{name}_rank" in explain:
            parts.append(f"{name} #{explain[f'{name}_rank']} ({explain[f'{name}_score']:.3f})")
        elif explain.get("dense_rank") or explain.get("sparse_rank"):
            parts.append(f"not in the {name} candidates")
    matched = explain.get("matched")
    if matched:
        ranks = ", ".join(f"{k.split('_')[0]} #{v}" for k, v in matched.items() if k.endswith("_rank"))
        parts.append(f"matched {matched['name']}" + (f" ({ranks})" if ranks else ""))
    if "identity" in explain:
        parts.append(f"name match {explain['identity']:.2f}")
    if "kind_intent" in explain:
        kind = str(explain["kind_intent"]).replace("_", " ")
        parts.append(f"asked for {'an' if kind[:1] in 'aeiou' else 'a'} {kind}")
    if "runs" in explain:
        parts.append(f"runs {explain['runs']}")
    if "lineage" in explain:
        parts.append(str(explain["lineage"]))
    if explain.get("project_named"):
        parts.append("in the project the question names")
    if "project_evidence" in explain:
        parts.append(f"project evidence x{explain['project_evidence']:.2f}")
    return "; ".join(parts) or "fused score only"

"""How sure a result is, and why it ranks where it does (`search --explain`).

Confidence reads the one absolute signal search has: the cosine similarity of the query to the result
(or to the result's best matching column or row), which ranks do not give. A logistic curve maps it to
0-1; its midpoint and slope were fitted on answered questions against the same questions with their
answers removed from the index (pooled across the question sets, then checked on each). A result the
question names (identity) is confident whatever its cosine.
"""

from __future__ import annotations

import math
from typing import Any

LOW_CONFIDENCE = 0.5  # below this the best result is "no good match"
MIDPOINT = 0.45  # cosine where a result is as likely a match as not
SLOPE = 0.05  # cosine distance for e-fold odds
IDENTITY_CONFIDENT = 0.5  # identity strength that alone makes a result confident


def _cosine(note: dict[str, Any], notes: dict[str, dict]) -> float | None:
    own = note.get("dense_score")
    part = notes.get(str(note.get("matched_part")), {}).get("dense_score") if note.get("matched_part") else None
    values = [v for v in (own, part) if v is not None]
    return max(values) if values else None


def match_confidence(note: dict[str, Any], notes: dict[str, dict]) -> float | None:
    """0-1, or None when the search had no dense retriever (sparse mode)."""
    cosine = _cosine(note, notes)
    if note.get("identity", 0.0) >= IDENTITY_CONFIDENT:
        return 1.0 if cosine is None else max(0.9, _logistic(cosine))
    if cosine is None:
        return None
    return _logistic(cosine)


def _logistic(cosine: float) -> float:
    return round(1.0 / (1.0 + math.exp(-(cosine - MIDPOINT) / SLOPE)), 4)


def explanation(note: dict[str, Any], notes: dict[str, dict]) -> dict[str, Any]:
    """What `--explain` shows: each retriever's rank and score, the matched part, and every boost."""
    out: dict[str, Any] = {key: note[key] for key in ("dense_rank", "dense_score", "sparse_rank", "sparse_score",
                                                       "identity", "kind_intent", "runs", "project_evidence",
                                                       "lineage") if key in note}
    part = note.get("matched_part")
    if part:
        part_note = notes.get(str(part), {})
        name = str(note.get("matched_part_name") or str(part).rsplit(".", 1)[-1])
        out["matched"] = {"id": part, "name": name,
                          **{k: part_note[k] for k in ("dense_rank", "sparse_rank") if k in part_note}}
    return out

"""A size budget per tool response, so an answer never floods a model's context.

Every response is measured as compact JSON, in characters and estimated tokens (~4 characters a
token for this kind of English-and-identifiers text). Over budget, items are dropped from the end
of the response's lists (the least relevant results, the farthest lineage nodes, the last columns)
until it fits, then over-long strings are shortened; every cut is named in `budget.cuts`, so a model
knows what it did not see and can ask for the rest (a cursor, a smaller page, one object).
"""

from __future__ import annotations

import json
import math
from typing import Any

DEFAULT_MAX_CHARS = 12_000
CHARS_PER_TOKEN = 4
SHORT_STRING = 300  # what an over-long string is cut to when dropping list items was not enough

Path = tuple[Any, ...]


def measure(data: Any) -> int:
    return len(dumps(data))


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def estimated_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def _get(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def _lists(body: dict[str, Any], paths: list[Path]) -> list[tuple[Path, list[Any]]]:
    found = []
    for path in paths:
        try:
            value = _get(body, path)
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, list):
            found.append((path, value))
    return found


def _shorten_strings(node: Any) -> int:
    """Cut every string longer than SHORT_STRING in place; how many were cut."""
    cut = 0
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in list(items):
        if isinstance(value, str) and len(value) > SHORT_STRING:
            node[key] = value[: SHORT_STRING - 1] + "…"
            cut += 1
        elif isinstance(value, (dict, list)):
            cut += _shorten_strings(value)
    return cut


def fit(body: dict[str, Any], groups: list[list[Path]], max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, Any]:
    """`body` cut to `max_chars`, with a `budget` entry naming every cut.

    `groups` are the lists that may lose items from their ends, in the order they give them up: the
    first group is trimmed until empty before the next is touched, and within a group the list
    holding the most characters goes first (one long list should not empty the others).
    """
    cuts: dict[Path, int] = {}
    for group in groups:
        lists = _lists(body, group)
        while measure(body) > max_chars:
            candidates = [(path, items) for path, items in lists if items]
            if not candidates:
                break
            path, items = max(candidates, key=lambda pair: measure(pair[1]))
            items.pop()
            cuts[path] = cuts.get(path, 0) + 1
    shortened = _shorten_strings(body) if measure(body) > max_chars else 0
    budget: dict[str, Any] = {"max_chars": max_chars, "truncated": bool(cuts or shortened),
                              "cuts": [{"field": ".".join(str(p) for p in path), "omitted": n,
                                        "kept": len(_get(body, path))} for path, n in cuts.items()]}
    if shortened:
        budget["cuts"].append({"field": "long strings", "shortened": shortened, "to_chars": SHORT_STRING})
    body["budget"] = budget
    return remeasure(body)


def remeasure(body: dict[str, Any]) -> dict[str, Any]:
    """Set `budget.chars` / `est_tokens` to the whole response's size, the budget entry included
    (twice: the figures' own digits count)."""
    budget = body["budget"]
    for _ in range(2):
        chars = measure(body)
        budget["chars"], budget["est_tokens"] = chars, estimated_tokens(chars)
    return body


def omitted(body: dict[str, Any], field: str) -> int:
    """How many items the budget cut from `field` (a dotted path as in `budget.cuts`)."""
    return sum(cut.get("omitted", 0) for cut in body.get("budget", {}).get("cuts", []) if cut["field"] == field)

"""Scope: a question that names a project ("deals in crm hubspot", "daily sales in webshop
analytics") asks for something inside that project.

Organisations repeat names across projects (templates, shared buckets, a sandbox copying production),
so the name of the thing alone cannot tell them apart; the project's name can. Its words are the
scope, not the answer's name or kind: "crm hubspot" must not make the HubSpot CRM extractor the
answer to "deals in crm hubspot", nor "with streamlit" a question for a data app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from keboola_vectorizer.ranking.intent import QUESTION_WORDS
from keboola_vectorizer.ranking.words import STOPWORDS, content_words, find_run, spellings, words

MIN_SINGLE_WORD = 4  # a project called by one word is named only by a word at least this long


@dataclass(frozen=True)
class Scope:
    """The projects a question names (none: no scope), the question without their names, and the
    words of those names."""

    projects: frozenset[Any]
    asked: str
    words: frozenset[str] = frozenset()


def project_scope(query: str, payloads: Iterable[dict[str, Any]]) -> Scope:
    """The projects whose whole name the question holds, in order, with something else to find in them."""
    names: dict[tuple[str, ...], set[Any]] = {}
    for payload in payloads:
        for spelling in spellings(str(payload.get("project_name") or "")):
            name = tuple(content_words(spelling))
            if name and (len(name) > 1 or len(name[0]) >= MIN_SINGLE_WORD):
                names.setdefault(name, set()).add(payload.get("project_id"))
    sequence = words(query)
    positions = [i for i, word in enumerate(sequence) if word not in STOPWORDS]
    content = [sequence[i] for i in positions]
    named: set[Any] = set()
    dropped: set[int] = set()
    for name, projects in sorted(names.items(), key=lambda item: -len(item[0])):  # longest name first
        start = find_run(list(name), content)
        if start is None or any(positions[i] in dropped for i in range(start, start + len(name))):
            continue
        named |= projects
        dropped.update(positions[i] for i in range(start, start + len(name)))
    asked = [word for i, word in enumerate(sequence) if i not in dropped]
    if not named or not [w for w in asked if w not in STOPWORDS and w not in QUESTION_WORDS]:
        return Scope(frozenset(), query)  # the question is the project's name: nothing to scope
    return Scope(frozenset(named), " ".join(asked), frozenset(sequence[i] for i in dropped))

"""Identity: a question that is, or contains, an object's name or id puts that object first.

Catalog users type names more often than descriptions, and embeddings are poor at exact strings. The
strength of a match is how much of the object's name the question covers, each name word weighted by
its rarity among the candidates' names (so "Data Source [IN-CRM-PIPEDRIVE]" is identified by
"pipedrive", not by "data source", which half the extractors are called), and whether the question
says little besides the name.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from keboola_vectorizer.ranking.intent import KIND_INTENTS, KIND_WORDS, QUESTION_WORDS, VERB_WORDS, Intent, detect
from keboola_vectorizer.ranking.words import content_words, find_run, is_code_like, spellings, words

EXACT = 1.0  # the question is the name (function words aside), or holds the object's id
# The question is the name once kind words are set aside on both sides: "newsletter stats" is the flow
# of that name exactly, and only this much the scheduler "Schedule newsletter stats".
EXACT_BUT_KIND = 0.9
CONTAINS = 0.6  # the question holds the whole name (two words or more) or nearly is the name
NEAR = 0.75  # share of the name's (rarity-weighted) words, and of the question's, that "nearly" needs


def name_words(payload: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(content_words(str(payload.get("name") or ""), KIND_WORDS)))


def _ids(payload: dict[str, Any]) -> list[str]:
    """Literal ids a user may paste: table id, configuration id, bucket id (long enough to be unique)."""
    values = [payload.get("table_id") if payload.get("kind") == "table" else None,
              payload.get("configuration_id") if payload.get("kind") == "configuration" else None,
              payload.get("bucket_id") if payload.get("kind") == "bucket" else None]
    return [str(v).lower() for v in values if v and len(str(v)) >= 5]


class IdentityMatcher:
    """Scores candidates' names against one query; word rarity comes from the candidates themselves."""

    def __init__(self, query: str, payloads: list[dict[str, Any]]) -> None:
        self.raw = query.lower()
        self.query_words = set(words(query))
        self.query_sequence = content_words(query, QUESTION_WORDS)
        self.query_content = set(self.query_sequence)
        self.query_literal = set(content_words(query, VERB_WORDS))
        names = [set(name_words(p)) for p in payloads]
        frequency = Counter(w for name in names for w in name)
        total = max(len(names), 1)
        self.rarity = {w: math.log(1 + total / n) for w, n in frequency.items()}

    def _name_terms(self, name: str, stop: frozenset[str]) -> list[str]:
        """A name's words but `stop`; codes such as project suffixes count only where the question
        repeats them."""
        return [w for w in dict.fromkeys(content_words(name, stop)) if not is_code_like(w) or w in self.query_words]

    def name_within(self, payload: dict[str, Any], allowed: frozenset[str]) -> bool:
        """Whether every word of the object's name is one of `allowed` (the HubSpot CRM extractor's
        name is all inside a project called "CRM HubSpot")."""
        for spelling in spellings(str(payload.get("name") or "")):
            name = self._name_terms(spelling, KIND_WORDS)
            if name and all(w in allowed for w in name):
                return True
        return False

    def strength(self, payload: dict[str, Any]) -> float:
        """0 (no identity) to 1 (the question names exactly this object)."""
        if any(f" {i} " in f" {self.raw} " or self.raw.strip() == i for i in _ids(payload)):
            return EXACT
        return max(self._name_strength(name) for name in spellings(str(payload.get("name") or "")))

    def _name_strength(self, raw_name: str) -> float:
        name = self._name_terms(raw_name, KIND_WORDS)
        if not name or not self.query_content:
            return 0.0
        weight = {w: self.rarity.get(w, 1.0) for w in name}
        covered = sum(weight[w] for w in name if w in self.query_words) / sum(weight.values())
        if covered <= 0:
            return 0.0
        # How much of the question the name accounts for: 1 when the question is just the name.
        said = sum(1 for w in self.query_content if w in name) / len(self.query_content)
        if covered >= 0.999 and said >= 0.999:
            literal = set(self._name_terms(raw_name, VERB_WORDS))
            return EXACT if literal == self.query_literal else EXACT_BUT_KIND
        if len(name) >= 2 and find_run(name, self.query_sequence) is not None:
            return CONTAINS  # the whole name, several words long and in order, inside a longer question
        if covered >= NEAR and said >= NEAR:
            return CONTAINS * covered  # nearly the name: a word missing or added
        # One common word shared with a name is not identity: embeddings and BM25 already weigh it.
        return 0.0


def intent_outside_names(query: str, payloads: list[dict[str, Any]]) -> Intent:
    """The question's intent, less what a name it holds whole says of itself: "task custom field" is
    the table of that name, not a question for a column, "GA4 comparison app" a transformation called
    so, not a data app, and "AI created content checker" no lineage question. A kind word stays an
    intent where the named object is of that kind ("Transformation [IN-SHOP]" is a transformation,
    and names its kind the way the question does)."""
    intent = detect(query)
    if not intent.kinds and not intent.lineage:
        return intent
    matcher = IdentityMatcher(query, payloads)

    def speaks_of_another(payload: dict[str, Any]) -> bool:
        said = detect(str(payload.get("name") or ""))
        return bool(said.lineage) or any(not KIND_INTENTS[kind][1](payload) for kind in said.kinds)

    foreign = {w for p in payloads if matcher.strength(p) >= CONTAINS and speaks_of_another(p)
               for w in words(str(p.get("name") or ""))}
    return detect(" ".join(w for w in words(query) if w not in foreign)) if foreign else intent

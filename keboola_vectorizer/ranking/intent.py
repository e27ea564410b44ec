"""What kind of object a question asks for, and whether it asks about lineage, from its words.

A soft prior, never a filter: "the extractor for pipedrive" should put extractor configurations
first, and still show the pipedrive tables after them. Triggers are whole (plural-folded) words or
two-word phrases; they are Keboola's own vocabulary for its object kinds, not tuned on any questions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.ranking.words import words

Payload = dict[str, Any]


def _config_of(component_type: str) -> Callable[[Payload], bool]:
    return lambda p: p.get("kind") == "configuration" and p.get("component_type") == component_type


# intent -> (trigger words or phrases, what matches it)
KIND_INTENTS: dict[str, tuple[frozenset[str], Callable[[Payload], bool]]] = {
    "transformation": (frozenset({"transformation", "transform", "sql", "dbt", "script", "python"}),
                       _config_of("transformation")),
    "flow": (frozenset({"flow", "orchestration", "orchestrator", "orchestrate", "schedule", "scheduled"}),
             _config_of("flow")),
    "extractor": (frozenset({"extractor", "extract", "extraction", "connector", "ingest", "ingestion",
                             "import", "data source"}), _config_of("extractor")),
    "writer": (frozenset({"writer", "export", "destination", "data destination"}), _config_of("writer")),
    "application": (frozenset({"app", "application", "streamlit", "data app"}), _config_of("application")),
    "column": (frozenset({"column", "field"}), lambda p: p.get("kind") == "column"),
    "configuration_row": (frozenset({"row", "configuration row", "config row"}),
                          lambda p: p.get("kind") == "configuration_row"),
    "table": (frozenset({"table"}), lambda p: p.get("kind") == "table"),
    "bucket": (frozenset({"bucket"}), lambda p: p.get("kind") == "bucket"),
    "configuration": (frozenset({"configuration", "config", "component"}),
                      lambda p: p.get("kind") == "configuration"),
}
# Every word above: identity matching ignores them ("the billing extractor" names "Billing").
KIND_WORDS = frozenset(w for triggers, _ in KIND_INTENTS.values() for t in triggers for w in t.split())

# "what produces X", "what feeds X", "where does X come from" ask upstream; "what reads X" downstream.
UPSTREAM = frozenset({"produce", "produced", "feed", "feeding", "fed", "write", "writes", "written", "create",
                      "created", "populate", "populated", "build", "built", "generate", "generated",
                      "come from", "comes from", "upstream", "source of", "fill", "filled", "load", "loaded"})
DOWNSTREAM = frozenset({"read", "reads", "use", "used", "uses", "using", "consume", "consumed", "depend",
                        "depends", "dependent", "downstream", "reading"})
# Folded the same way as the query, so "feeds" meets "feed".
UPSTREAM_FOLDED = frozenset(" ".join(words(t)) for t in UPSTREAM)
DOWNSTREAM_FOLDED = frozenset(" ".join(words(t)) for t in DOWNSTREAM)
# Words that say what is asked of an object, not which: identity matching ignores them, and kind words.
VERB_WORDS = frozenset(w for t in UPSTREAM | DOWNSTREAM for w in words(t)) | frozenset(
    {"run", "runs", "running", "ran", "contain", "contains"})
QUESTION_WORDS = KIND_WORDS | VERB_WORDS


@dataclass
class Intent:
    kinds: list[str] = field(default_factory=list)
    lineage: str | None = None  # "upstream", "downstream" or None

    def matches(self, payload: Payload) -> list[str]:
        return [name for name in self.kinds if KIND_INTENTS[name][1](payload)]

    def shared_with(self, other: Intent) -> Intent:
        """What both intents ask: a kind word that belongs to a name read one way or the other is no intent."""
        return Intent([kind for kind in self.kinds if kind in other.kinds],
                      self.lineage if self.lineage == other.lineage else None)


def _grams(tokens: list[str]) -> set[str]:
    return set(tokens) | {f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)}


def detect(query: str) -> Intent:
    grams = _grams(words(query))
    kinds = [name for name, (triggers, _) in KIND_INTENTS.items()
             if grams & {" ".join(words(t)) for t in triggers}]
    up, down = bool(grams & UPSTREAM_FOLDED), bool(grams & DOWNSTREAM_FOLDED)
    lineage = "upstream" if up and not down else "downstream" if down and not up else None
    return Intent(kinds, lineage)

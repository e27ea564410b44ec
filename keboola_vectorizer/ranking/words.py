"""Words of queries and object names, normalised the same way on both sides.

Names are identifiers as often as prose (`bdm_orders`, `CustomerLifetimeValue`, `IN-CRM-PIPEDRIVE`), so
they are split at underscores, dashes, dots, brackets and camel-case humps, lower-cased, and plural
endings folded (orders -> order, categories -> category), so "the orders table" finds `ORDERS`.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z0-9]+")


def fold(word: str) -> str:
    """Plural folding: enough for names and questions to meet, not a stemmer."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


# Function words: they carry no identity. Kept short on purpose, and English only.
_FUNCTION_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how",
    "i", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "that", "the", "their", "there",
    "this", "to", "was", "we", "what", "when", "where", "which", "who", "whose", "why", "with", "you", "your",
    "all", "any", "each", "find", "get", "give", "list", "show", "tell", "about", "called", "named",
})
# Compared with folded words, so in folded form too ("does" folds to "doe").
STOPWORDS = _FUNCTION_WORDS | frozenset(fold(w) for w in _FUNCTION_WORDS)

NAME_CHARS = 200  # texts up to this long (names, questions) are remembered: they recur in every search


def words(text: str) -> list[str]:
    """Normalised words of `text`, in order, function words kept (callers drop what they need)."""
    return list(_remembered(text)) if len(text) <= NAME_CHARS else _split(text)


@lru_cache(maxsize=32_768)
def _remembered(text: str) -> tuple[str, ...]:
    return tuple(_split(text))


def _raw_words(text: str) -> list[str]:
    return _WORD.findall(_CAMEL.sub(" ", text))


def _split(text: str) -> list[str]:
    return [fold(w.lower()) for w in _raw_words(text)]


def word_set(text: str) -> set[str]:
    """The distinct normalised words of `text` (as `set(words(text))`, folding each distinct word once)."""
    return {fold(w.lower()) for w in set(_raw_words(text))}


def find_run(run: list[str], sequence: list[str]) -> int | None:
    """Where `run` first occurs in `sequence`, word for word and in order; None if it does not."""
    width = len(run)
    return next((i for i in range(len(sequence) - width + 1) if sequence[i:i + width] == run), None)


def spellings(name: str) -> tuple[str, ...]:
    """A name as people may type it: a name with humps ("HubSpot", "helpArticles") split at them
    ("hub spot") or whole ("hubspot"), as brands are typed."""
    return (name, name.lower()) if _CAMEL.search(name) else (name,)


def content_words(text: str, extra_stop: frozenset[str] = frozenset()) -> list[str]:
    """`words(text)` less function words and `extra_stop`."""
    if len(text) <= NAME_CHARS:
        return list(_remembered_content(text, extra_stop))
    return [w for w in _split(text) if w not in STOPWORDS and w not in extra_stop]


@lru_cache(maxsize=32_768)
def _remembered_content(text: str, extra_stop: frozenset[str]) -> tuple[str, ...]:
    # Identity asks this of every candidate's name several times a query, with a few fixed stop sets.
    return tuple(w for w in _remembered(text) if w not in STOPWORDS and w not in extra_stop)


def is_code_like(word: str) -> bool:
    """Project suffixes and generated codes (`9006ke`, `a1b2`): letters mixed with digits."""
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)

"""Text helpers for documents: identifiers as words, clipping, table references, parameter words.

Secrets never enter a document. Two rules, both applied to every configuration body and row:
a key starting with `#` is a Keboola-encrypted value, and a key whose words name a secret
(password, secret, token, credentials, key, access key id, api key, private key, auth...) holds
one even when it is not encrypted (an AWS `accessKeyId`, say). Keys that only look like it
(`primaryKey`, `sortKey`, `incrementalKey`...) are kept. Values that look like cloud access keys
are dropped wherever they are.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

MAX_PARAMETER_CHARS = 1500

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[._\-/:\s#]+")

# Keys inside configurations that are plumbing, not meaning.
IGNORED_PARAMETER_KEYS = {"authorization", "oauth_api", "credentials", "image_parameters", "runtime",
                          "processors", "shared_code_row_ids", "variables_id", "variables_values_id",
                          "storage", "blocks", "phases", "tasks", "queries"}
_SECRET_WORDS = {"password", "passwd", "pwd", "secret", "secrets", "token", "tokens", "credential",
                 "credentials", "apikey", "passphrase", "auth", "authorization", "oauth", "privatekey",
                 "cert", "certificate", "signature", "sas", "bearer", "session"}
_HARMLESS_KEY_WORDS = {"primary", "sort", "partition", "foreign", "unique", "dedup", "dedupe", "merge",
                       "incremental", "distribution", "cluster", "clustering", "join", "index", "row",
                       "table", "column", "object", "s3", "file", "search", "lookup", "group"}
_CLOUD_KEY_VALUE = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


@lru_cache(maxsize=65_536)  # column names and parameter keys repeat across tables and configurations
def split_identifier(identifier: str) -> str:
    """`out.c-crm.customer_churnMonthly` -> `out crm customer churn monthly`."""
    words: list[str] = []
    for part in _SEPARATORS.split(identifier):
        if not part or part == "c":
            continue
        words.extend(w for w in _CAMEL.split(part) if w)
    return " ".join(w.lower() if not w.isupper() or len(w) > 1 else w for w in words)


def with_words(identifier: str) -> str:
    """The identifier followed by its words when they differ, so both exact and split terms match."""
    words = split_identifier(identifier)
    return identifier if words == identifier.lower() else f"{identifier} ({words})"


def names_secret(key: str) -> bool:
    """Whether a configuration key names a secret (see the module docstring for the rule)."""
    if key.startswith("#"):
        return True
    words = split_identifier(key).lower().split()
    if not words:
        return False
    if any(word in _SECRET_WORDS for word in words):
        return True
    if "key" in words:
        position = words.index("key")
        before = words[position - 1] if position else ""
        # `accessKeyId`, `apiKey`, `privateKey`, `key`: secrets; `primaryKey`, `s3 key` of a file: not.
        return before in {"", "access", "api", "private", "secret", "client", "master", "encryption",
                          "account", "storage", "signing"} and before not in _HARMLESS_KEY_WORDS
    return False


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def without_secrets(node: Any) -> Any:
    """A copy of a configuration body without secret keys or values (for payloads that keep JSON)."""
    if isinstance(node, dict):
        return {k: without_secrets(v) for k, v in node.items() if not names_secret(str(k))}
    if isinstance(node, list):
        return [without_secrets(v) for v in node]
    if isinstance(node, str) and _CLOUD_KEY_VALUE.search(node):
        return ""
    return node


def parameter_words(value: Any, budget: int = MAX_PARAMETER_CHARS,
                    ignored: set[str] | frozenset[str] = frozenset(IGNORED_PARAMETER_KEYS)) -> str:
    """Readable key: value pairs from a configuration body, skipping secrets and plumbing."""
    parts: list[str] = []
    used = [0]  # characters gathered so far; a running total keeps the walk linear

    def add(part: str) -> None:
        parts.append(part)
        used[0] += len(part)

    def walk(node: Any, key: str = "") -> None:
        if used[0] > budget:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                k = str(k)
                if names_secret(k) or k in ignored:
                    continue
                walk(v, k)
        elif isinstance(node, list):
            for item in node[:50]:
                walk(item, key)
        elif isinstance(node, str):
            stripped = node.strip()
            if stripped.startswith(("{", "[")):
                try:
                    walk(json.loads(stripped), key)
                    return
                except ValueError:
                    pass
            if (stripped and len(stripped) < 300 and not stripped.startswith("KBC::")
                    and not _CLOUD_KEY_VALUE.search(stripped)):
                add(f"{split_identifier(key)}: {stripped}" if key else stripped)
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and key:
            add(f"{split_identifier(key)}: {node}")

    walk(value)
    return clip("; ".join(parts), budget)


def table_refs(table_ids: list[str]) -> str:
    """Table ids as people read them: names (with their words) grouped by bucket."""
    by_bucket: dict[str, list[str]] = {}
    for table_id in table_ids:
        bucket_id, _, table_name = table_id.rpartition(".")
        by_bucket.setdefault(bucket_id, []).append(with_words(table_name or table_id))
    return "; ".join(f"{', '.join(names)} (bucket {bucket_id})" if bucket_id else ", ".join(names)
                     for bucket_id, names in by_bucket.items())

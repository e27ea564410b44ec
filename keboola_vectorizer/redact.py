"""The one secret scrubber: registered secrets (every token and API key in force, registered by the
CLI from the settings) and any a caller names, replaced by `***`; and URLs without credentials.
Logging, error lines, JSON output and the three API clients all go through it."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# Shorter values would mask ordinary words; no real token is that short.
MIN_SECRET_LENGTH = 4
_SECRETS: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that must never be printed; every log line and error line is scrubbed of them."""
    _SECRETS.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def has_secrets() -> bool:
    return bool(_SECRETS)


def scrub(text: str, *also: str | None) -> str:
    """`text` with every registered secret and each of `also` masked, longest first."""
    secrets = _SECRETS | {v for v in also if v and len(v) >= MIN_SECRET_LENGTH}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))

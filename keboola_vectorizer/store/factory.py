"""Pick the backend from settings: QDRANT_URL means a Qdrant server or cluster, else Qdrant Edge."""

from __future__ import annotations

from urllib.parse import urlsplit

from keboola_vectorizer.config import Settings
from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.store.base import VectorStore


def check_qdrant_url(url: str) -> None:
    """ConfigError unless QDRANT_URL is an http(s) URL with a host (qdrant-client would fail obscurely)."""
    parts = urlsplit(url.strip())
    try:
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The URL itself is not shown: it may carry credentials.
        raise ConfigError("QDRANT_URL is not a valid Qdrant URL (http or https, a host and a numeric port)",
                          "set QDRANT_URL like https://qdrant.example.com:6333, or unset it for the embedded store")


def open_store(settings: Settings, interactive: bool = False) -> VectorStore:
    """`interactive`: a command a person waits on; against a server it gives up fast when the server
    is unreachable, where a batch run retries with backoff (store/fail_fast.py)."""
    if settings.qdrant_url:
        check_qdrant_url(settings.qdrant_url)
        # Imported here so the embedded path never pays for qdrant-client's import.
        from keboola_vectorizer.store.server import ServerStore

        return ServerStore.from_settings(settings, interactive=interactive)
    from keboola_vectorizer.store.edge import EdgeStore

    return EdgeStore(settings.qdrant_path, settings.qdrant_collection)

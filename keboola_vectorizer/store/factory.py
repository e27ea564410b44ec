"""Pick the backend from settings: QDRANT_URL means a Qdrant server or cluster, else Qdrant Edge."""

from __future__ import annotations

from keboola_vectorizer.config import Settings
from keboola_vectorizer.store.base import VectorStore


def open_store(settings: Settings) -> VectorStore:
    if settings.qdrant_url:
        # Imported here so the embedded path never pays for qdrant-client's import.
        from keboola_vectorizer.store.server import ServerStore

        return ServerStore.from_settings(settings)
    from keboola_vectorizer.store.edge import EdgeStore

    return EdgeStore(settings.qdrant_path, settings.qdrant_collection)

"""Per-invocation state, held by the root click context (`ctx.obj`), never in module globals: the
settings (loaded once), whether the command is the last thing this process does, and the store,
lock and embedder every command opens the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from keboola_vectorizer.config import Settings, load_settings

if TYPE_CHECKING:
    from keboola_vectorizer.embedding.base import Embedder
    from keboola_vectorizer.store.base import CollectionMeta, VectorStore


@dataclass
class Invocation:
    # True when `run()` drives the command as a process: read-only Edge shards then stay open until
    # exit, which keeps their pages in the OS cache for the next command (store/edge/page_cache.py).
    as_process: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    # What the command opened (a store, or the search service to read through): a process that only
    # read may leave without the interpreter's teardown (cli/runner.py).
    opened_to_read: bool = False
    opened_to_write: bool = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @contextmanager
    def open_store(self, *, read_only: bool = False) -> Iterator[VectorStore]:
        """The configured store, closed on the way out (left to the OS after reading, see above). A
        read-only command is one a person waits on: against a server it fails fast (store/fail_fast.py)."""
        from keboola_vectorizer.store.factory import open_store

        store = open_store(self.settings, interactive=read_only)
        if read_only:
            self.opened_to_read = True
        else:
            self.opened_to_write = True
        try:
            yield store
        finally:
            if read_only and self.as_process and self.settings.qdrant_url is None:
                from keboola_vectorizer.store.edge import keep_read_shards_until_exit

                keep_read_shards_until_exit()
            store.close()

    @contextmanager
    def index_lock(self) -> Iterator[None]:
        """One writer per collection (KV_LOCK_TIMEOUT)."""
        from keboola_vectorizer.locking import collection_lock

        with collection_lock(self.settings):
            yield

    def embedder(self, provider: str | None, model: str | None, dimensions: int | None) -> Embedder:
        from keboola_vectorizer.embedding.base import create_embedder

        return create_embedder(self.settings.embedding_settings(provider, model, dimensions))

    def embedder_for(self, meta: CollectionMeta | None) -> Embedder:
        """The embedder that built the collection (its id is `provider/model@dimension`)."""
        from keboola_vectorizer.engine import embedder_for_meta

        return embedder_for_meta(meta, self.settings)

    def lazy_embedder(self, store: VectorStore) -> Any:
        """A callable returning the collection's embedder, loaded on first call (a sparse search
        never loads a model)."""
        cache: dict[str, Embedder] = {}

        def get() -> Embedder:
            if "embedder" not in cache:
                cache["embedder"] = self.embedder_for(store.meta())
            return cache["embedder"]

        return get


def invocation(ctx: typer.Context) -> Invocation:
    """The invocation of the command `ctx` belongs to (made here when a test drives the app directly)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Invocation):
        root.obj = Invocation()
    return root.obj

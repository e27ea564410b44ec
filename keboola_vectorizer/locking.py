"""One writer per collection: an OS file lock that dies with its process.

A second index run on the same collection waits up to KV_LOCK_TIMEOUT seconds (default 0: fail at
once) and then exits with a clear message. The lock file lives beside the embedded store, or in the
temp directory keyed by server URL and collection; for a cluster shared by several machines the
CronJob's `concurrencyPolicy: Forbid` keeps to one writer.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from keboola_vectorizer.config import Settings
from keboola_vectorizer.errors import LockBusyError


def lock_path(settings: Settings) -> Path:
    if settings.qdrant_url:
        key = hashlib.sha256(f"{settings.qdrant_url}|{settings.qdrant_collection}".encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"keboola-vectorizer-{key}.lock"
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    return settings.qdrant_path / f".{settings.qdrant_collection}.lock"


@contextmanager
def collection_lock(settings: Settings, timeout_s: float | None = None) -> Iterator[None]:
    if timeout_s is None:
        timeout_s = float(os.environ.get("KV_LOCK_TIMEOUT", "0"))
    path = lock_path(settings)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout:
        raise LockBusyError(
            f"another index run is writing collection {settings.qdrant_collection!r} (lock {path})",
            "wait for it to finish, or set KV_LOCK_TIMEOUT=SECONDS to wait for it",
        ) from None
    try:
        yield
    finally:
        lock.release()

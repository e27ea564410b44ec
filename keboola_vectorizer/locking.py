"""One writer per collection: an OS file lock that dies with its process.

A second index run on the same collection waits up to KV_LOCK_TIMEOUT seconds (default 0: fail at
once) and then exits with a clear message. The lock file lives beside the embedded store, or in the
temp directory keyed by server URL and collection; for a cluster shared by several machines the
CronJob's `concurrencyPolicy: Forbid` keeps to one writer.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from keboola_vectorizer.config import Settings
from keboola_vectorizer.errors import ConfigError, LockBusyError, StoreError


def lock_path(settings: Settings) -> Path:
    if settings.qdrant_url:
        key = hashlib.sha256(f"{settings.qdrant_url}|{settings.qdrant_collection}".encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"keboola-vectorizer-{key}.lock"
    try:
        settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"QDRANT_PATH {settings.qdrant_path} cannot be used as the store directory "
                         f"({exc.strerror or exc})", "set QDRANT_PATH to a writable directory") from None
    return settings.qdrant_path / f".{settings.qdrant_collection}.lock"


def lock_timeout(settings: Settings) -> float:
    """KV_LOCK_TIMEOUT in seconds (0, the default: fail at once when the lock is held)."""
    value = settings.kv_lock_timeout.strip() or "0"
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigError(f"KV_LOCK_TIMEOUT={value!r} is not a number of seconds",
                          "set KV_LOCK_TIMEOUT to how long a second index run may wait, e.g. 600, or 0")
    return seconds


@contextmanager
def collection_lock(settings: Settings, timeout_s: float | None = None) -> Iterator[None]:
    if timeout_s is None:
        timeout_s = lock_timeout(settings)
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

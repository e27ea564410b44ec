"""A long-running reader's private copy of the embedded (Edge) index.

A Qdrant Edge shard admits one process at a time (the write-ahead log is locked while it is open),
so a server that kept the real shard open would make every `index` run, CLI search and second
assistant fail with "another process may hold it". The server reads a copy instead: it copies the
current generation (a few MB for the demo organisation) into a temporary directory, opens that, and
copies again when the original changes (a rebuild switched CURRENT, or an incremental run rewrote
files and state.json). The real shard is only ever read as files, never opened.

A copy is taken only when nothing under the generation was written for `settle_s` seconds and the
files are the same before and after the copy, so it never catches a run mid-write; should a file
change all the same, the copy is what a kill -9 at that instant leaves, which Qdrant recovers from.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from keboola_vectorizer.store.edge import EdgeStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EdgeStamp:
    """What a generation looks like on disk: its name, a digest of its files and the newest write."""

    generation: str
    digest: str
    newest_write: float  # seconds since the epoch

    @property
    def label(self) -> str:
        """The generation a client sees: the directory name, plus the content for in-place updates."""
        return f"{self.generation}+{self.digest[:10]}"


def edge_stamp(collection_dir: Path) -> EdgeStamp | None:
    """The stamp of the current generation, or None when there is none (no index built yet)."""
    pointer = collection_dir / "CURRENT"
    try:
        generation = pointer.read_text().strip()
    except OSError:
        return None
    gen_dir = collection_dir / generation
    if not generation or not (gen_dir / "meta.json").is_file():
        return None
    digest = hashlib.sha256(generation.encode())
    newest = 0.0
    paths = sorted(p for p in gen_dir.rglob("*") if p.is_file() and not _rewritten_by_reading(p))
    state = collection_dir / "state.json"
    for path in [*paths, state] if state.is_file() else paths:
        try:
            info = path.stat()
        except OSError:  # removed while we looked: a writer is at work, the digest will differ
            digest.update(f"{path}:gone".encode())
            continue
        digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
        newest = max(newest, info.st_mtime)
    return EdgeStamp(generation, digest.hexdigest(), newest)


def _rewritten_by_reading(path: Path) -> bool:
    """Files a read-only load of the shard writes back (their mtime moves): the shard's config, the
    flag files of payload indexes and deleted points, and the mmap trackers of small segments. They
    are left out of the stamp, so a local `search` does not make a running service copy the index
    again. A real write still shows: every write goes through the WAL first, and the WAL, the
    segments' `segment.json` and id trackers stay in the stamp."""
    name = path.name
    return (name in ("edge_config.json", "deleted.dat", "tracker.dat")
            or (name.startswith("flags_") and name.endswith(".dat")))


READERS_DIR = ".readers"  # beside the collections under QDRANT_PATH: same disk, never a tmpfs in RAM


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _readers_dir(root: Path) -> Path:
    """Where copies go: QDRANT_PATH/.readers, or the temp directory when QDRANT_PATH is read-only.
    Copies left by readers that died (kill -9, a closed laptop lid) are removed on the way."""
    for candidate in (root / READERS_DIR, Path(tempfile.gettempdir())):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            probe = Path(tempfile.mkdtemp(prefix=".probe-", dir=candidate))
            probe.rmdir()
        except OSError:
            continue
        for leftover in candidate.glob("kv-reader-*-*"):
            pid = leftover.name.split("-")[2]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)
        return candidate
    raise OSError(f"no writable directory for the index copy (tried {root / READERS_DIR} and the temp dir)")


class EdgeReaderCopy:
    """One private copy of one generation, opened as a pinned EdgeStore; `close` removes it."""

    def __init__(self, root: Path, collection: str, stamp: EdgeStamp) -> None:
        self.stamp = stamp
        self._tmp = Path(tempfile.mkdtemp(prefix=f"kv-reader-{os.getpid()}-", dir=_readers_dir(root)))
        source = root / collection
        try:
            target = self._tmp / collection
            shutil.copytree(source / stamp.generation, target / stamp.generation)
            if (source / "state.json").is_file():
                shutil.copy2(source / "state.json", target / "state.json")
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self.store = EdgeStore(self._tmp, collection, generation=stamp.generation)

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


def take_copy(root: Path, collection: str, settle_s: float) -> EdgeReaderCopy | None:
    """A consistent copy of the current generation, or None when there is none or it is being written."""
    collection_dir = root / collection
    before = edge_stamp(collection_dir)
    if before is None or time.time() - before.newest_write < settle_s:
        return None
    copy = EdgeReaderCopy(root, collection, before)
    after = edge_stamp(collection_dir)
    if after != before:
        log.info("the index changed while it was being copied; will copy again")
        copy.close()
        return None
    return copy

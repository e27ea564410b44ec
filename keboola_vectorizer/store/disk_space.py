"""Free-space checks for the embedded store, made before every write.

Qdrant Edge writes through memory-mapped, sparse files: a write onto a full disk is not an error the
process can catch but a SIGBUS that kills it (exit 135) half-way through a batch. So the store asks the
filesystem for free space before each write and refuses, with `DiskFullError` (exit 12), any write that
would leave less than `KEEP_FREE_BYTES` free. What a write needs is estimated from what it carries:

- creating a shard: `CREATE_BYTES` (measured: 20.3 MiB on tmpfs, which allocates Edge's 1 MiB flag
  files of every payload index in full; 0.4 MiB on ext4, which keeps them sparse);
- a batch of points: `BYTES_FACTOR` times its raw size (dense floats, sparse pairs, payload JSON), plus
  `BATCH_PAGES_BYTES` for the first-touched page of every file a batch writes (measured on tmpfs: 1.8-2.1
  times the raw size, 40-60 KB of first pages; the write-ahead log holds a second copy).

On a memory-backed filesystem (tmpfs, e.g. a Kubernetes `emptyDir` with `medium: Memory`) mapping a
file populates its pages, holes included: the first open of a shard allocates its payload indexes' map
files in full (measured: 49 MiB for an empty shard), so there creating needs `CREATE_BYTES_MEMORY_FS`
and every open first checks that the holes it will fill fit (`open_bytes`). Disk filesystems (ext4,
xfs) keep holes on open and need neither.

Write errors the filesystem does report (ENOSPC, EDQUOT from a plain write, or Edge's own "Not enough
space" answer) become the same `DiskFullError`. The check cannot see another process filling the disk
between the check and the write; `KEEP_FREE_BYTES` is the margin for that and for flushing on close.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keboola_vectorizer.errors import DiskFullError

MIB = 1024 * 1024
CREATE_BYTES = 24 * MIB
CREATE_BYTES_MEMORY_FS = 80 * MIB
MEMORY_FS_TYPES = ("tmpfs", "ramfs", "shm")
# The files a shard's open populates (payload index maps), by name.
POPULATED_ON_OPEN = ("page_0.dat", "tracker.dat")
BYTES_FACTOR = 3
BATCH_PAGES_BYTES = 256 * 1024
KEEP_FREE_BYTES = 1 * MIB
# Sealing builds the indexed segment beside the appendable one and opens a fresh appendable segment.
SEAL_FACTOR = 2
_NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_NO_SPACE_TEXT = ("no space left on device", "os error 28", "not enough space", "disk quota exceeded")


def _existing(path: Path) -> Path:
    """`path`, or its nearest existing parent (a store not created yet)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def free_bytes(path: Path) -> int:
    """Bytes still free on the filesystem holding `path`."""
    return shutil.disk_usage(_existing(path)).free


def filesystem_type(path: Path) -> str:
    """The type of the filesystem mounted nearest above `path`, from /proc/self/mounts ("" if unknown)."""
    target = os.path.realpath(_existing(path))
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, fields[2]
    return kind


def populates_holes(path: Path) -> bool:
    return filesystem_type(path) in MEMORY_FS_TYPES


def create_bytes(path: Path) -> int:
    return CREATE_BYTES_MEMORY_FS if populates_holes(path) else CREATE_BYTES


def open_bytes(shard_dir: Path) -> int:
    """Bytes opening the shard will allocate: the holes of its payload index maps on a memory-backed
    filesystem, nothing elsewhere."""
    if not populates_holes(shard_dir):
        return 0
    total = 0
    for folder, _dirs, files in os.walk(shard_dir):
        if "payload_index" not in folder:
            continue
        for name in files:
            if name in POPULATED_ON_OPEN:
                stat = os.lstat(os.path.join(folder, name))
                total += max(0, stat.st_size - stat.st_blocks * 512)
    return total


def batch_bytes(points: Sequence[Any]) -> int:
    """Estimated bytes a batch of `PointRecord`s takes on disk once written (see the module doc)."""
    raw = 0
    for record in points:
        payload = len(json.dumps(record.payload, default=str, ensure_ascii=False).encode())
        raw += 4 * len(record.dense) + 8 * len(record.sparse.indices) + payload + len(record.document_id)
    return BYTES_FACTOR * raw + BATCH_PAGES_BYTES


def _mib(value: int) -> str:
    return f"{value / MIB:.1f} MiB"


def require_room(path: Path, needed: int, what: str) -> None:
    """DiskFullError unless writing `needed` bytes under `path` leaves `KEEP_FREE_BYTES` free."""
    if needed <= 0:  # nothing will be allocated (an open on a disk filesystem): a full disk is fine
        return
    free = free_bytes(path)
    if free - needed < KEEP_FREE_BYTES:
        raise disk_full(path, f"{what} needs about {_mib(needed + KEEP_FREE_BYTES)} free, "
                              f"{_mib(free)} is left")


def disk_full(path: Path, detail: str) -> DiskFullError:
    return DiskFullError(
        f"not enough disk space for the embedded store at {path}: {detail}; nothing more was written",
        "free space on that disk or set QDRANT_PATH to a larger one, then rerun the same command "
        "(it resumes where this run stopped)",
    )


def is_no_space(exc: BaseException) -> bool:
    """Whether a write failed because the disk (or the quota) is full."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS:
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _NO_SPACE_TEXT)


@contextmanager
def no_space_as_error(path: Path, what: str) -> Iterator[None]:
    """Turn a 'disk full' write error inside the block into DiskFullError; other errors pass."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as exc:
        if is_no_space(exc):
            raise disk_full(path, f"{what} failed ({' '.join(str(exc).split())[:200]})") from None
        raise


def tree_bytes(path: Path) -> int:
    """Bytes the files under `path` occupy on disk (allocated blocks, so sparse files count as small)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                continue
    return total

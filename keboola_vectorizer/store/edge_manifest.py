"""What an embedded store should contain: a manifest of its shard's files, checked on open.

Qdrant Edge trusts its files: a segment whose dense vectors were cut short loads fine and fails later,
in the middle of a search, with "vector 2 is not readable". So every writer, when it closes the shard,
records in `<generation>/files.json` each shard file's size and a BLAKE2b digest of its data, and

- every open compares the sizes (a `stat` per file, no reads: see `check_sizes`), and
- `doctor` also compares the digests (`verify`), which reads the files.

A mismatch is `StoreDamagedError` (exit 13), one line naming the file and the fix: `index --rebuild`, or
`snapshot restore NAME`. Before its first write a writer marks the manifest `writing`; a manifest left
in that state (a run in progress, or one killed) is not checked until the next writer closes cleanly,
because Edge's write-ahead log legitimately changes the files after a kill. Not recorded: the
write-ahead log (`wal/`, its segments are rotated and Edge checks its entries itself) and payload
index journals (`tracker_journal.dat`), which the first reader applies and deletes.

Digests are incremental: a file whose size and modification time match the previous manifest keeps its
digest, so a close hashes only what the run changed (sealed segments never change). Holes in Edge's
sparse files are skipped (SEEK_DATA), so hashing costs what the data occupies, not the files' length.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keboola_vectorizer.errors import StoreDamagedError

MANIFEST = "files.json"
_VERSION = 1
_VOLATILE_NAMES = ("tracker_journal.dat",)
_VOLATILE_DIRS = ("wal",)
_BLOCK = 64 * 1024


def _shard_files(shard_dir: Path) -> dict[str, os.stat_result]:
    files: dict[str, os.stat_result] = {}
    for folder, dirs, names in os.walk(shard_dir):
        if Path(folder) == shard_dir:
            dirs[:] = [d for d in dirs if d not in _VOLATILE_DIRS]
        for name in names:
            if name in _VOLATILE_NAMES:
                continue
            path = os.path.join(folder, name)
            files[os.path.relpath(path, shard_dir)] = os.lstat(path)
    return files


def _data_regions(fd: int, size: int) -> list[tuple[int, int]]:
    """(start, end) of the data in a sparse file; the whole file where SEEK_DATA is not supported."""
    if not hasattr(os, "SEEK_DATA"):
        return [(0, size)]
    regions, offset = [], 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                break
            return [(0, size)]
        end = os.lseek(fd, start, os.SEEK_HOLE)
        regions.append((start, end))
        offset = end
    return regions


def digest(path: Path) -> str:
    """BLAKE2b of a file's non-zero 64 KiB blocks and their offsets. Holes are skipped without being
    read, and an all-zero block counts as a hole, so a sparse file and its dense copy (what a snapshot
    copy makes of it) have the same digest."""
    hasher = hashlib.blake2b(digest_size=16)
    zero = bytes(_BLOCK)
    with open(path, "rb") as handle:
        size, done = os.fstat(handle.fileno()).st_size, 0
        for start, end in _data_regions(handle.fileno(), size):
            offset = max(start - start % _BLOCK, done)  # blocks never hashed twice
            handle.seek(offset)
            while offset < end:
                block = handle.read(_BLOCK)
                if not block:
                    break
                if block != zero[: len(block)]:
                    hasher.update(offset.to_bytes(8, "little"))
                    hasher.update(block)
                offset += len(block)
            done = offset
    hasher.update(size.to_bytes(8, "little"))
    return hasher.hexdigest()


def _load(gen_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((gen_dir / MANIFEST).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return {"state": "unreadable", "files": {}}
    return data if isinstance(data, dict) else {"state": "unreadable", "files": {}}


def _write(gen_dir: Path, data: dict[str, Any]) -> None:
    target = gen_dir / MANIFEST
    tmp = target.with_name(f".{MANIFEST}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True))
    os.replace(tmp, target)


def mark_writing(gen_dir: Path) -> None:
    """Before a process's first write: the manifest stops vouching for the files until `record`."""
    data = _load(gen_dir) or {"version": _VERSION, "files": {}}
    if data.get("state") != "writing":
        _write(gen_dir, {**data, "state": "writing"})


def record(gen_dir: Path) -> None:
    """After a writer closed the shard: every file's size and digest (unchanged files keep theirs)."""
    previous = (_load(gen_dir) or {}).get("files", {})
    files = {}
    for rel, stat in sorted(_shard_files(gen_dir / "shard").items()):
        before = previous.get(rel) or {}
        same = before.get("size") == stat.st_size and before.get("mtime_ns") == stat.st_mtime_ns
        files[rel] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      "blake2b": before["blake2b"] if same and "blake2b" in before
                      else digest(gen_dir / "shard" / rel)}
    _write(gen_dir, {"version": _VERSION, "state": "closed", "files": files})


@dataclass
class Damage:
    """What differs from the manifest, as a short phrase for the error line."""

    file: str
    detail: str

    def describe(self) -> str:
        return f"shard/{self.file} {self.detail}"


def _size_damage(gen_dir: Path, files: dict[str, Any]) -> list[Damage]:
    shard = gen_dir / "shard"
    found: list[Damage] = []
    for rel, entry in files.items():
        try:
            size = os.stat(shard / rel).st_size
        except FileNotFoundError:
            found.append(Damage(rel, "is missing"))
            continue
        if size != entry.get("size"):
            found.append(Damage(rel, f"is {size} bytes, {entry.get('size')} recorded"))
    return found


def status(gen_dir: Path) -> str:
    """`closed` (checkable), `writing` (a writer is active or was killed), `none` (store predates
    manifests) or `unreadable`."""
    data = _load(gen_dir)
    return "none" if data is None else str(data.get("state", "unreadable"))


def check_sizes(gen_dir: Path, hint: Callable[[], str]) -> None:
    """The open check: StoreDamagedError if a recorded file is missing or has another size."""
    data = _load(gen_dir)
    if data is None or data.get("state") != "closed":
        # Writing (a run active or killed), or a manifest torn by a crash: it vouches for nothing, and
        # the index itself may be whole; doctor reports an unreadable one.
        return
    found = _size_damage(gen_dir, data.get("files", {}))
    if found:
        raise damaged(gen_dir, found, hint())


def verify(gen_dir: Path) -> tuple[str, list[Damage], int]:
    """For doctor: (state, damage found by sizes and digests, files checked)."""
    data = _load(gen_dir)
    if data is None or data.get("state") != "closed":
        return status(gen_dir), [], 0
    files = data.get("files", {})
    found = _size_damage(gen_dir, files)
    bad_sizes = {d.file for d in found}
    for rel, entry in files.items():
        if rel not in bad_sizes and digest(gen_dir / "shard" / rel) != entry.get("blake2b"):
            found.append(Damage(rel, "has other content than recorded (checksum)"))
    return "closed", found, len(files)


def damaged(gen_dir: Path, found: list[Damage], hint: str) -> StoreDamagedError:
    more = f" and {len(found) - 1} more file(s)" if len(found) > 1 else ""
    return StoreDamagedError(f"the embedded store at {gen_dir} is damaged: {found[0].describe()}{more}", hint)


def read_failure(gen_dir: Path, exc: BaseException, hint: str) -> StoreDamagedError:
    """An Edge read that failed on its own files ('Service runtime error: ... not readable')."""
    text = " ".join(str(exc).split())[:240]
    return StoreDamagedError(f"the embedded store at {gen_dir} could not be read ({text})", hint)


def is_read_failure(exc: BaseException) -> bool:
    """Edge's answer when its files are not what it expects (plain Exception, or a Rust panic)."""
    return "Service runtime error" in str(exc) or type(exc).__name__ == "PanicException"


def doctor_check(gen_dir: Path, hint: str) -> tuple[bool, str]:
    """(ok, detail) for doctor's `store files` check: sizes and digests against the manifest."""
    started = time.perf_counter()
    state, found, checked = verify(gen_dir)
    seconds = time.perf_counter() - started
    if found:
        return False, damaged(gen_dir, found, hint).one_line()
    if state == "closed":
        return True, f"{checked} files match their recorded sizes and checksums ({seconds:.2f} s)"
    if state == "writing":
        return True, ("not verified: an index run is writing, or the last one was killed "
                      "(the next complete run records the files again)")
    if state == "none":
        return True, "not verified: built before stores recorded their files (the next index run records them)"
    return False, damaged(gen_dir, [Damage(MANIFEST, "is unreadable")], hint).one_line()

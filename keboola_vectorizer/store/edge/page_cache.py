"""Keep Edge shards that were only read open until the process exits.

Closing or dropping a shard evicts its cold (memory-mapped) files from the OS page cache, so the
next `search` process would read the index from disk again (docs/benchmarks.md has the cost). Left
open, the OS reclaims the shard at exit, and as nothing was written, nothing is lost. Only a CLI
command that reads and then exits turns this on; a later open in the same process reuses the kept
shard (a shard holds its write-ahead log's lock while open).
"""

from __future__ import annotations

import atexit
import ctypes

from qdrant_edge import EdgeShard

# Shards that read-only closes left open for the rest of the process, by shard directory.
_kept_shards: dict[str, EdgeShard] = {}
_keeping_read_shards = False


def keep_read_shards_until_exit() -> None:
    """For a process about to exit after reading: leave shards that were only read open until then."""
    global _keeping_read_shards
    if not _keeping_read_shards:
        _keeping_read_shards = True
        atexit.register(_leave_kept_shards_to_the_os)


def keeping() -> bool:
    return _keeping_read_shards


def keep(path: str, shard: EdgeShard) -> None:
    _kept_shards[path] = shard


def take(path: str) -> EdgeShard | None:
    """The shard kept open for `path`, handed over (None when none is kept)."""
    return _kept_shards.pop(path, None)


def _leave_kept_shards_to_the_os() -> None:
    for shard in _kept_shards.values():
        # One reference more than Python will release: interpreter teardown never drops the shard.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(shard))

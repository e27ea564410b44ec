"""Edge backups: a copy of the closed shard directory with a manifest of what it held, and a
restore that checks the copy against that manifest before switching to it."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store import disk_space
from keboola_vectorizer.store.edge.generations import atomic_write_json, new_generation_name, switch_and_clean
from keboola_vectorizer.store.types import SOURCES_KEY, SnapshotInfo, hashes_digest

if TYPE_CHECKING:
    from keboola_vectorizer.store.edge.store import EdgeStore


def snapshots_dir(store: EdgeStore) -> Path:
    return store.root / f"{store.name}.snapshots"


def create_snapshot(store: EdgeStore) -> SnapshotInfo:
    """Copy the current generation (shard closed, so the copy is consistent) with a manifest of
    what it holds, for verification on restore."""
    gen_dir = store.generation_dir()
    if gen_dir is None or store.meta() is None:
        raise StoreError(f"no index at {store.location} to snapshot", "run `keboola-vectorizer index` first")
    hashes = store.content_hashes()
    store.close_shard()
    taken_at = datetime.now(timezone.utc)
    name = f"{store.name}-{taken_at.strftime('%Y%m%dT%H%M%S%fZ')}"
    target = snapshots_dir(store) / name
    partial = target.with_name(f".{name}.partial")
    disk_space.require_room(store.root, disk_space.tree_bytes(gen_dir), f"snapshot {name}")
    shutil.copytree(gen_dir, partial)
    info = SnapshotInfo(name=name, collection=store.generation or "", points=len(hashes),
                        hashes_digest=hashes_digest(hashes), taken_at=taken_at.isoformat(timespec="seconds"))
    atomic_write_json(partial / "manifest.json", info.to_dict())
    os.replace(partial, target)
    return info


def list_snapshots(store: EdgeStore) -> list[SnapshotInfo]:
    folder = snapshots_dir(store)
    if not folder.is_dir():
        return []
    infos = []
    for manifest in sorted(folder.glob("*/manifest.json")):
        try:
            infos.append(SnapshotInfo.from_dict(json.loads(manifest.read_text())))
        except (ValueError, KeyError, TypeError):
            continue
    return infos


def restore_snapshot(store: EdgeStore, name_or_location: str, *, verify: bool = True) -> SnapshotInfo:
    """Copy a snapshot into a new generation, check its point count and content hashes against the
    manifest, then switch to it; the current generation is kept until the check passes."""
    source = Path(name_or_location).expanduser()
    if not source.is_dir():
        source = snapshots_dir(store) / name_or_location
    manifest_path = source / "manifest.json"
    if not manifest_path.is_file() or not (source / "shard").is_dir():
        raise StoreError(f"no Edge snapshot {name_or_location!r} (looked in {source})",
                         "list them with `keboola-vectorizer snapshot list`")
    info = SnapshotInfo.from_dict(json.loads(manifest_path.read_text()))
    generation = new_generation_name()
    target = store.collection_dir / generation
    disk_space.require_room(store.root, disk_space.tree_bytes(source), f"restoring {info.name}")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("manifest.json"))
    restored = store.pinned_to(generation)
    try:
        if verify:
            hashes = restored.content_hashes()
            if len(hashes) != info.points or hashes_digest(hashes) != info.hashes_digest:
                raise StoreError(
                    f"restored snapshot {info.name} holds {len(hashes)} points with other content "
                    f"than it recorded ({info.points} points)",
                    "the snapshot is damaged; restore an older one or run `index --rebuild`",
                )
    except StoreError:
        restored.close()
        shutil.rmtree(target, ignore_errors=True)
        raise
    restored.close()
    store.close_shard()
    switch_and_clean(store.collection_dir, generation, drop_leftovers=False)
    store.unpin()
    # The run state is the collection's, not the generation's: digests recorded for the points this
    # restore replaced must not let the next index run skip projects (keboola/snapshot_digest.py).
    state = store.read_state()
    if state.pop(SOURCES_KEY, None) is not None:
        store.write_state(state)
    return info

"""The Edge store's directory layout and its one switch between generations.

    <collection>/CURRENT                  name of the active generation (the Edge "alias")
    <collection>/<generation>/shard       the EdgeShard directory
    <collection>/<generation>/meta.json   CollectionMeta the generation was built with
    <collection>/state.json               last run summary

A rebuild or a restore writes a new generation and switches CURRENT with an atomic rename, so a
reader sees the old generation or the new one, never a half-built one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from keboola_vectorizer.store.plan import generation_stamp


def atomic_write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def new_generation_name() -> str:
    return f"gen-{generation_stamp()}"


def current_generation(collection_dir: Path) -> str | None:
    pointer = collection_dir / "CURRENT"
    if pointer.is_file():
        return pointer.read_text().strip() or None
    return None


def write_current(collection_dir: Path, generation: str) -> None:
    collection_dir.mkdir(parents=True, exist_ok=True)
    tmp = collection_dir / f".CURRENT.tmp-{os.getpid()}"
    tmp.write_text(generation)
    os.replace(tmp, collection_dir / "CURRENT")


def switch_and_clean(collection_dir: Path, new_generation: str, *, drop_leftovers: bool) -> None:
    """Point CURRENT at `new_generation`, then drop the generation it replaced.

    With `drop_leftovers` (a rebuild, which holds the index lock) also every older generation: the
    half-built leftovers of rebuilds that were killed (kill -9, OOM), which nothing references and
    which would each leak a shard."""
    old_generation = current_generation(collection_dir)
    write_current(collection_dir, new_generation)
    if old_generation and old_generation != new_generation:
        shutil.rmtree(collection_dir / old_generation, ignore_errors=True)
    if not drop_leftovers:
        return
    for leftover in collection_dir.glob("gen-*"):
        if leftover.is_dir() and leftover.name < new_generation:
            shutil.rmtree(leftover, ignore_errors=True)

"""What `doctor` checks of the embedded store: the path is writable, the collection opens, its files
are what it recorded."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store import edge_manifest
from keboola_vectorizer.store.types import DoctorCheck

if TYPE_CHECKING:
    from keboola_vectorizer.store.edge.store import EdgeStore


def doctor_checks(store: EdgeStore) -> list[DoctorCheck]:
    """Checks for `keboola-vectorizer doctor`: the store path is writable, the collection opens."""
    checks: list[DoctorCheck] = []
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        probe = store.root / f".doctor-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
        checks.append(DoctorCheck("qdrant reachable", True, f"embedded Qdrant Edge at {store.root} (writable)"))
    except OSError as exc:
        checks.append(DoctorCheck("qdrant reachable", False,
                                  f"QDRANT_PATH {store.root} is not writable ({exc.strerror}) — "
                                  "set QDRANT_PATH to a writable directory"))
        return checks
    try:
        meta = store.meta()
        detail = (f"'{store.name}' does not exist yet (the first index run creates it)" if meta is None
                  else f"'{store.name}' generation {store.generation}: {meta.describe()}, "
                       f"{store.count()} points")
        checks.append(DoctorCheck("qdrant collection", True, detail))
    except StoreError as exc:
        checks.append(DoctorCheck("qdrant collection", False, exc.one_line()))
    gen_dir = store.generation_dir()
    if gen_dir is not None and (gen_dir / "shard").is_dir() and checks[-1].ok:
        checks.append(DoctorCheck("store files", *edge_manifest.doctor_check(gen_dir, store.damage_hint())))
    return checks

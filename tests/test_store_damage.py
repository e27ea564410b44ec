"""A damaged embedded store is found and named, never a crash: the real CLI over a real Qdrant Edge
store whose files were cut short or changed after the run that wrote them closed (store/edge_manifest.py).
Before the manifest, a segment with its dense vectors cut to one page made `search` fail with exit 1
("unexpected Exception: ... vector 2 is not readable") while `status` and `doctor` passed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.store import edge_manifest
from keboola_vectorizer.store.edge import EdgeStore
from tests import fault_scenarios as fs
from tests.conftest import copy_snapshot

PROJECT = 9002


@pytest.fixture
def store_env(tmp_path: Path, embedder) -> tuple[dict[str, str], Path, Path]:
    """(CLI environment, QDRANT_PATH, snapshot) of a freshly built 24-document index."""
    snapshot = copy_snapshot(tmp_path / "org", [PROJECT])
    qdrant = tmp_path / "qdrant"
    store = EdgeStore(qdrant)
    try:
        run_index(Snapshot(snapshot), store, embedder)
    finally:
        store.close()
    return fs.clean_env(QDRANT_PATH=str(qdrant), HF_HUB_OFFLINE="1"), qdrant, snapshot


def _generation(qdrant: Path) -> Path:
    root = qdrant / "keboola-metadata"
    return root / (root / "CURRENT").read_text().strip()


def _dense_vectors(qdrant: Path) -> Path:
    found = sorted(_generation(qdrant).glob("shard/segments/*/vector_storage-dense/vectors/chunk_0.mmap"))
    assert found, "no dense vector file in the shard"
    return found[0]


def _one_damage_line(result: subprocess.CompletedProcess[str], code: int = 13) -> str:
    assert result.returncode == code, f"exit {result.returncode}: {result.stderr[-1500:]}"
    errors = fs.error_lines(result)
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr and "panic" not in result.stderr.lower()
    return errors[0]


def test_dense_vectors_cut_to_one_page_are_named_and_rebuild_recovers(store_env) -> None:
    env, qdrant, snapshot = store_env
    vectors = _dense_vectors(qdrant)
    os.truncate(vectors, 4096)
    line = _one_damage_line(fs.run(["search", "campaign messages"], env))
    assert "is damaged" in line and "vector_storage-dense/vectors/chunk_0.mmap is 4096 bytes" in line
    assert "index --rebuild" in line and "snapshot restore" in line
    for command in (["status"], ["status", "--json"], ["similar", f"{PROJECT}/table/x"], ["lineage", "x"],
                    ["index", "--snapshot", str(snapshot)]):
        assert "is damaged" in _one_damage_line(fs.run(command, env)), command
    doctor = fs.run(["doctor", "--json"], env)
    assert doctor.returncode != 0
    failed = [c for c in json.loads(doctor.stdout)["checks"] if not c["ok"]]
    assert failed and "chunk_0.mmap is 4096 bytes" in failed[0]["detail"]

    rebuilt = fs.run(["index", "--snapshot", str(snapshot), "--rebuild", "--json"], env)
    assert rebuilt.returncode == 0, rebuilt.stderr[-1500:]
    assert json.loads(rebuilt.stdout)["embedded"] == 24
    found = fs.run(["search", "campaign messages", "--json"], env)
    assert found.returncode == 0 and len(json.loads(found.stdout)) == 10, found.stderr[-1500:]
    assert fs.run(["doctor"], env).returncode == 0


def test_changed_bytes_of_the_same_size_fail_doctor_by_checksum(store_env) -> None:
    """The open check reads no data (sizes only, to stay cheap); doctor reads and compares digests."""
    env, qdrant, _snapshot = store_env
    vectors = _dense_vectors(qdrant)
    with open(vectors, "r+b") as handle:
        handle.write(b"\xff" * 64)  # the first vector's values: a search still runs, on a wrong vector
    doctor = fs.run(["doctor", "--json"], env)
    assert doctor.returncode != 0
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert not checks["store files"]["ok"]
    assert "chunk_0.mmap has other content than recorded (checksum)" in checks["store files"]["detail"]
    assert fs.run(["status"], env).returncode == 0


def test_the_hint_names_the_newest_snapshot_and_restoring_it_recovers(store_env) -> None:
    env, qdrant, _snapshot = store_env
    created = fs.run(["snapshot", "create", "--json"], env)
    assert created.returncode == 0, created.stderr[-1500:]
    name = json.loads(created.stdout)["name"]
    os.truncate(_dense_vectors(qdrant), 4096)
    line = _one_damage_line(fs.run(["status"], env))
    assert f"snapshot restore {name}" in line
    restored = fs.run(["snapshot", "restore", name], env)
    assert restored.returncode == 0, restored.stderr[-1500:]
    assert fs.run(["search", "campaign messages"], env).returncode == 0
    # The restored copy is no longer sparse; its digests still match (holes and zero blocks hash alike).
    doctor = fs.run(["doctor"], env)
    assert doctor.returncode == 0, doctor.stdout


def test_a_store_from_before_manifests_opens_and_the_next_run_records_one(store_env) -> None:
    env, qdrant, snapshot = store_env
    gen_dir = _generation(qdrant)
    (gen_dir / edge_manifest.MANIFEST).unlink()
    assert fs.run(["status"], env).returncode == 0
    assert "built before stores recorded their files" in fs.run(["doctor"], env).stdout
    again = fs.run(["index", "--snapshot", str(snapshot), "--json"], env)
    assert again.returncode == 0 and json.loads(again.stdout)["embedded"] == 0
    assert edge_manifest.status(gen_dir) == "none"  # nothing was written, so nothing was recorded
    store = EdgeStore(qdrant)
    store.delete([f"{PROJECT}/table/not-there"])
    store.close()
    assert edge_manifest.status(gen_dir) == "closed" and edge_manifest.verify(gen_dir)[1] == []


def test_digest_skips_holes_and_matches_a_dense_copy(tmp_path: Path) -> None:
    sparse, dense = tmp_path / "sparse", tmp_path / "dense"
    with open(sparse, "wb") as handle:
        handle.truncate(10 * 1024 * 1024)
        handle.seek(5 * 1024 * 1024 + 17)
        handle.write(b"data")
    dense.write_bytes(sparse.read_bytes())
    assert edge_manifest.digest(sparse) == edge_manifest.digest(dense)
    with open(dense, "r+b") as handle:
        handle.seek(5 * 1024 * 1024 + 17)
        handle.write(b"DATA")
    assert edge_manifest.digest(sparse) != edge_manifest.digest(dense)
    dense.write_bytes(sparse.read_bytes()[:-1])
    assert edge_manifest.digest(sparse) != edge_manifest.digest(dense)

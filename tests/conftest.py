"""Shared fixtures: the bundled sample organisation, writable snapshot copies, one loaded model,
and one full index of the sample organisation built once per session (tests copy it to modify it)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder  # noqa: E402
from keboola_vectorizer.keboola.snapshot import Snapshot, bundled_sample_org  # noqa: E402
from keboola_vectorizer.pipeline import run_index  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402

SAMPLE_ORG = bundled_sample_org()


def copy_snapshot(target: Path, project_ids: list[int] | None = None) -> Path:
    """A writable copy of the sample organisation (or some of its projects)."""
    target.mkdir(parents=True, exist_ok=True)
    projects = json.loads((SAMPLE_ORG / "projects.json").read_text())
    if project_ids is not None:
        projects = [p for p in projects if p["id"] in project_ids]
    for project in projects:
        shutil.copytree(SAMPLE_ORG / str(project["id"]), target / str(project["id"]))
    (target / "projects.json").write_text(json.dumps(projects, indent=1))
    for extra in ("expected-counts.json", "questions-dev.jsonl"):
        shutil.copy(SAMPLE_ORG / extra, target / extra)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture(scope="session")
def embedder():
    return create_embedder(EmbeddingSettings(provider="local"))


@pytest.fixture(scope="session")
def full_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """QDRANT_PATH holding the whole sample organisation, indexed once for the session."""
    root = tmp_path_factory.mktemp("full-index")
    store = EdgeStore(root)
    try:
        summary = run_index(Snapshot(SAMPLE_ORG), store, embedder)
    finally:
        store.close()
    assert summary.embedded == 2141
    return root


@pytest.fixture
def full_index_copy(tmp_path: Path, full_index_dir: Path) -> Iterator[Path]:
    """A private copy of the full index that a test may change."""
    target = tmp_path / "qdrant"
    shutil.copytree(full_index_dir, target)
    yield target


@pytest.fixture(scope="session")
def fault_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The fault-injection lab (tests/fault_scenarios.py): fakes plus an undisturbed baseline run."""
    from tests.fault_scenarios import Lab

    lab = Lab(tmp_path_factory.mktemp("faults"))
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def mini_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small organisation of tests/mini_org.py as a snapshot directory."""
    from tests.mini_org import write_mini_org

    return write_mini_org(tmp_path_factory.mktemp("mini-org"))


@pytest.fixture(scope="session")
def mini_index(tmp_path_factory: pytest.TempPathFactory, mini_snapshot: Path, embedder) -> Path:
    """QDRANT_PATH holding the small organisation, built once (read it, never change it)."""
    root = tmp_path_factory.mktemp("mini-index")
    store = EdgeStore(root)
    try:
        run_index(Snapshot(mini_snapshot), store, embedder)
    finally:
        store.close()
    return root


@pytest.fixture
def mini_index_copy(tmp_path: Path, mini_index: Path) -> Path:
    """A private copy of the small index that a test may change."""
    target = tmp_path / "mini-qdrant"
    # Not the copies that engines serving mini_index keep in .readers (edge_reader.py).
    shutil.copytree(mini_index, target, ignore=shutil.ignore_patterns(".readers"))
    return target

"""Shared fixtures: the generated demo organisation, writable snapshot copies, one loaded model,
and one full index of the demo organisation built once per session (tests copy it to modify it).

The demo organisation is generated fresh for the session into a temporary KV_DEMO_ORG_DIR (so a
stale user cache never decides a test, and subprocesses running `--sample` use the same copy).
Expected counts come from the generator's summary, never from a checked-in file."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["KV_DEMO_ORG_DIR"] = tempfile.mkdtemp(prefix="kv-demo-org-")
atexit.register(shutil.rmtree, os.environ["KV_DEMO_ORG_DIR"], True)

from keboola_vectorizer.demo_org import demo_snapshot_dir, demo_summary  # noqa: E402
from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder  # noqa: E402
from keboola_vectorizer.keboola.snapshot import Snapshot  # noqa: E402
from keboola_vectorizer.pipeline import run_index  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402

DEMO_ORG = demo_snapshot_dir()
DEMO = demo_summary(DEMO_ORG)
# The two smallest projects (the sandbox and email marketing): for tests that index whole projects
# through the CLI and must stay quick.
SMALL, SECOND = DEMO.project("sandbox").id, DEMO.project("email").id


def copy_snapshot(target: Path, project_ids: list[int] | None = None) -> Path:
    """A writable copy of the demo organisation (or some of its projects)."""
    target.mkdir(parents=True, exist_ok=True)
    projects = json.loads((DEMO_ORG / "projects.json").read_text())
    if project_ids is not None:
        projects = [p for p in projects if p["id"] in project_ids]
    for project in projects:
        shutil.copytree(DEMO_ORG / str(project["id"]), target / str(project["id"]))
    (target / "projects.json").write_text(json.dumps(projects, indent=1))
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture(scope="session")
def embedder():
    return create_embedder(EmbeddingSettings(provider="local"))


@pytest.fixture(scope="session")
def full_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """QDRANT_PATH holding the whole demo organisation, indexed once for the session."""
    root = tmp_path_factory.mktemp("full-index")
    store = EdgeStore(root)
    try:
        summary = run_index(Snapshot(DEMO_ORG), store, embedder)
    finally:
        store.close()
    assert summary.embedded == DEMO.documents
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

"""Fixtures for the service tests: the small organisation (tests/mini_org.py) indexed once, and a
real uvicorn serving the service over a warm engine on a free loopback port.

Import the fixtures into a test module with `from tests.service_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keboola_vectorizer.config import load_settings
from keboola_vectorizer.engine import SearchEngine
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.service.app import create_app
from keboola_vectorizer.store.edge import EdgeStore
from tests.service_server import running_service

__all__ = ["service_index", "service_url", "start_service", "wait_ready", "index_snapshot"]


def index_snapshot(snapshot: Path, root: Path, embedder: Any) -> None:
    store = EdgeStore(root)
    try:
        run_index(Snapshot(snapshot), store, embedder)
    finally:
        store.close()


@pytest.fixture(scope="session")
def service_index(mini_index: Path) -> Path:
    """QDRANT_PATH holding the small organisation (conftest's `mini_index`; read it, never change it)."""
    return mini_index


def wait_ready(base_url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(base_url + "/readyz", headers=headers).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"{base_url} not ready: {httpx.get(base_url + '/readyz').text}")


def start_service(qdrant_path: Path, embedder: Any, api_key: str | None = None, **engine_kwargs: Any) -> Any:
    """A context manager yielding (base URL, engine) of a service over `qdrant_path`."""
    from contextlib import contextmanager

    @contextmanager
    def started() -> Iterator[tuple[str, SearchEngine]]:
        engine = SearchEngine(load_settings(qdrant_path=qdrant_path), embedder_factory=lambda meta: embedder,
                              **engine_kwargs)
        try:
            with running_service(create_app(engine, api_key=api_key)) as url:
                yield url, engine
        finally:
            engine.close()

    return started()


@pytest.fixture(scope="module")
def service_url(service_index: Path, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One running service (no key) over a private copy of the small organisation's index."""
    root = tmp_path_factory.mktemp("service-copy") / "qdrant"
    shutil.copytree(service_index, root)
    with start_service(root, embedder) as (url, _engine):
        wait_ready(url)
        yield url

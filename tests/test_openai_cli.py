"""`--provider openai` end to end through the CLI, the real openai client and the fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import DEMO, SECOND, SMALL, copy_snapshot
from tests.fakes.openai_server import FakeOpenAI, fake_openai  # noqa: F401  (fixture)
from tests.test_cli import assert_one_line_error, run_cli

PAIR_DOCS = DEMO.project(SMALL).total + DEMO.project(SECOND).total


@pytest.fixture
def openai_env(fake_openai: FakeOpenAI, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    snapshot = copy_snapshot(tmp_path / "snap", [SMALL, SECOND])
    return {"QDRANT_PATH": str(tmp_path / "q"), "OPENAI_API_KEY": fake_openai.api_key,
            "OPENAI_BASE_URL": fake_openai.base_url, "SNAPSHOT": str(snapshot)}


def test_index_and_search_with_openai(openai_env: dict[str, str], fake_openai: FakeOpenAI) -> None:  # noqa: F811
    result = run_cli("index", "--snapshot", openai_env["SNAPSHOT"], "--provider", "openai", "--json",
                     env=openai_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["embedder"] == "openai/text-embedding-3-small@1536"
    assert summary["embedded"] == PAIR_DOCS
    assert summary["usage"]["tokens"] > 0 and summary["usage"]["inputs"] == PAIR_DOCS
    assert fake_openai.inputs == PAIR_DOCS
    store = EdgeStore(openai_env["QDRANT_PATH"])
    assert store.meta().dimension == 1536
    store.close()
    # Search embeds the query with the collection's own provider, whatever EMBEDDING_PROVIDER says.
    found = run_cli("search", "newsletter campaign", "--json", env=openai_env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)
    assert fake_openai.inputs == PAIR_DOCS + 1


def test_dimensions_option_and_switching_model_needs_rebuild(openai_env: dict[str, str]) -> None:
    first = run_cli("index", "--snapshot", openai_env["SNAPSHOT"], "--provider", "openai", "--dimensions", "256",
                    "--json", env=openai_env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["embedder"] == "openai/text-embedding-3-small@256"
    switched = run_cli("index", "--snapshot", openai_env["SNAPSHOT"], env=openai_env)
    assert_one_line_error(switched, 6, "--rebuild", "text-embedding-3-small@256")
    store = EdgeStore(openai_env["QDRANT_PATH"])
    assert store.meta().dimension == 256 and store.count() == PAIR_DOCS  # untouched
    store.close()
    rebuilt = run_cli("index", "--snapshot", openai_env["SNAPSHOT"], "--rebuild", "--json", env=openai_env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["embedder"] == "local/all-MiniLM-L6-v2@384"


@pytest.mark.parametrize(("extra_env", "args", "code", "needle"), [
    ({"OPENAI_API_KEY": ""}, [], 3, "OPENAI_API_KEY"),
    ({"OPENAI_API_KEY": "sk-wrong-key-123456"}, [], 8, "401"),
    ({}, ["--model", "text-embedding-9-huge"], 8, "text-embedding-9-huge"),
    ({}, ["--dimensions", "4096"], 3, "4096"),
])
def test_bad_openai_input_is_one_line_and_leaves_no_collection(
    openai_env: dict[str, str], extra_env: dict[str, str], args: list[str], code: int, needle: str
) -> None:
    env = {**openai_env, **extra_env}
    result = run_cli("index", "--snapshot", openai_env["SNAPSHOT"], "--provider", "openai", *args, env=env)
    assert_one_line_error(result, code, needle)
    assert "sk-wrong-key-123456" not in result.stderr + result.stdout
    store = EdgeStore(openai_env["QDRANT_PATH"])
    assert store.count() == 0
    store.close()

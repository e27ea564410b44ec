"""The `watch` command as a user runs it: kill -9 at the worst moments loses no event, SIGTERM stops
cleanly, a token that cannot read all events is told about --poll-manifests, `status` shows the cursor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keboola_vectorizer.store.edge import EdgeStore
from tests.fakes.small_org import write_small_org
from tests.fakes.storage_api import FakeStorageApi

REPO = Path(__file__).resolve().parent.parent
P1 = 9101
ONCE = ["watch", "--once", "--json", "--settle", "0.1", "--poll-interval", "0.5", "--lookback", "0"]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeStorageApi]:
    with FakeStorageApi(write_small_org(tmp_path / "org", {P1: "Web shop", 9103: "Limited"},
                                        non_master=(9103,))) as fake:
        yield fake


def _env(api: FakeStorageApi, qdrant: Path, project_id: int = P1, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "HF_HOME", "TMPDIR")}
    return {**keep, "HF_HUB_OFFLINE": "1", "KBC_STORAGE_API_URL": api.url,
            "KBC_STORAGE_TOKEN": api.token_for(project_id), "QDRANT_PATH": str(qdrant), **extra}


def _cli(args: list[str], env: dict[str, str], kill: str | None = None) -> subprocess.CompletedProcess[str]:
    module = "tests.kill_helper" if kill else "keboola_vectorizer.cli"
    env = {**env, "KV_TEST_KILL": kill} if kill else env
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env,
                          timeout=240, cwd=REPO)


def _state(qdrant: Path) -> tuple[dict[str, str], dict[str, object]]:
    store = EdgeStore(qdrant)
    try:
        return store.content_hashes(), store.read_state()
    finally:
        store.close()


def test_kill_after_upsert_before_cursor_and_mid_upsert_loses_no_event(api: FakeStorageApi, tmp_path: Path) -> None:
    qdrant = tmp_path / "qdrant"
    first = _cli(ONCE, _env(api, qdrant))
    assert first.returncode == 0, first.stderr
    bucket = f"in.c-shop-{P1}"
    api.events.create_table(P1, bucket, "returns", ["return_id", "order_id", "reason"])
    killed = _cli(ONCE, _env(api, qdrant), kill="watch-cursor:1")
    assert killed.returncode == -signal.SIGKILL
    hashes, state = _state(qdrant)
    assert f"{P1}/table/{bucket}.returns" in hashes  # upserted ...
    assert state["watch"]["projects"][str(P1)]["cursor"] == 0  # ... but the cursor did not move
    last = api.events.add_column(P1, f"{bucket}.customers", "loyalty_tier")
    killed = _cli(ONCE, _env(api, qdrant), kill="upsert:1")
    assert killed.returncode == -signal.SIGKILL
    again = _cli(ONCE, _env(api, qdrant))
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)["projects"][0]
    assert report["changes"] == 2 and report["reextracts"] == 1  # both events replayed, one re-index
    hashes, state = _state(qdrant)
    assert state["watch"]["projects"][str(P1)]["cursor"] == int(last["id"])
    assert f"{P1}/column/{bucket}.customers.loyalty_tier" in hashes
    fresh = _cli(ONCE, _env(api, tmp_path / "fresh"))  # what an undisturbed watch builds from scratch
    assert fresh.returncode == 0, fresh.stderr
    assert hashes == _state(tmp_path / "fresh")[0]
    status = _cli(["status"], _env(api, qdrant))
    assert f"watch {P1}: cursor {last['id']}" in status.stdout
    status_json = json.loads(_cli(["status", "--json"], _env(api, qdrant)).stdout)
    assert status_json["watch"][str(P1)]["cursor"] == int(last["id"])


def test_sigterm_stops_a_running_watch_cleanly(api: FakeStorageApi, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "keboola_vectorizer.cli", "watch", "--poll-interval", "0.5", "--settle", "0.1"]
    process = subprocess.Popen(args, env=_env(api, tmp_path / "qdrant"), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and api.count("/events") < 3:  # started, indexed, polling
            time.sleep(0.2)
        assert api.count("/events") >= 3
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_a_token_that_cannot_read_all_events_is_told_about_poll_manifests(api: FakeStorageApi,
                                                                           tmp_path: Path) -> None:
    result = _cli(ONCE, _env(api, tmp_path / "qdrant", 9103))
    assert result.returncode == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "canReadAllProjectEvents" in errors[0] and "--poll-manifests" in errors[0]
    manifests = _cli([*ONCE, "--poll-manifests"], _env(api, tmp_path / "qdrant", 9103))
    assert manifests.returncode == 0, manifests.stderr
    assert json.loads(manifests.stdout)["projects"][0]["reextracts"] == 1

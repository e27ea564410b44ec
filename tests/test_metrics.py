"""Datadog metrics on the wire: a UDP socket stands in for the agent and every line a run sends is checked."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from keboola_vectorizer.cli.app import app as cli_app
from keboola_vectorizer.cli.context import Invocation
from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.keboola.extract import extract_snapshot
from keboola_vectorizer.keboola.projects_config import ProjectSource
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.logging_setup import RUN_ID
from keboola_vectorizer.metrics import Metrics, get_metrics, reset_metrics
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import DEMO, SMALL, copy_snapshot
from tests.fakes.storage_api import FakeStorageApi, storage_api  # noqa: F401

PROJECT = SMALL  # the demo sandbox project
DOCS = DEMO.project(SMALL).total  # three batches of 10
TAGS = "env:test,service:kv,version:1.2.3"
NS = "keboola_vectorizer"


class Agent:
    """A fake DogStatsD agent: one UDP socket; `lines()` drains what arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def lines(self, wait: float = 0.2) -> list[str]:
        self.sock.settimeout(wait)
        out: list[str] = []
        while True:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                return out
            out.extend(line for line in data.decode("utf-8").split("\n") if line)


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    fake = Agent()
    for name in ("DD_DOGSTATSD_URL", "DD_DOGSTATSD_DISABLE", "DD_TAGS", "DATADOG_TAGS", "DD_ENTITY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DD_AGENT_HOST", "127.0.0.1")
    monkeypatch.setenv("DD_DOGSTATSD_PORT", str(fake.port))
    monkeypatch.setenv("DD_ENV", "test")
    monkeypatch.setenv("DD_SERVICE", "kv")
    monkeypatch.setenv("DD_VERSION", "1.2.3")
    reset_metrics(None)
    yield fake
    reset_metrics(Metrics.disabled())
    fake.sock.close()


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_snapshot(tmp_path_factory.mktemp("metrics") / "snapshot", [PROJECT])


@pytest.fixture(autouse=True)
def _keep_root_logging() -> Iterator[None]:
    """The CLI replaces the root handlers (with ones writing to CliRunner's streams): put them back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def normalise(lines: list[str]) -> Counter[str]:
    """Distribution and gauge values vary run to run: `<v>` stands for them."""
    return Counter(re.sub(r"^([^_][^:]*):[0-9.e+-]+\|(d|g)\|", r"\1:<v>|\2|", line) for line in lines)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


def test_index_run_sends_counts_durations_and_latencies(agent: Agent, snapshot_dir: Path, tmp_path: Path,
                                                        embedder) -> None:
    store = EdgeStore(tmp_path / "qdrant")
    try:
        summary = run_index(Snapshot(snapshot_dir), store, embedder, batch_size=10)
    finally:
        store.close()
    assert (summary.extracted, summary.embedded) == (DOCS, DOCS)
    assert 20 < DOCS <= 30
    tag = f"project_id:{PROJECT},{TAGS}"
    expected = Counter({
        f"{NS}.embedding.latency:<v>|d|#provider:local,{TAGS}": 3,  # documents in batches of 10
        f"{NS}.upsert.latency:<v>|d|#{TAGS}": 3,
        f"{NS}.documents.extracted:{DOCS}|c|#{tag}": 1,
        f"{NS}.documents.embedded:{DOCS}|c|#{tag}": 1,
        f"{NS}.documents.skipped:0|c|#{tag}": 1,
        f"{NS}.documents.upserted:{DOCS}|c|#{tag}": 1,
        f"{NS}.documents.deleted:0|c|#{tag}": 1,
        f"{NS}.documents.payload_updated:0|c|#{tag}": 1,
        f"{NS}.project.duration:<v>|d|#{tag}": 1,
        **{f"{NS}.stage.duration:<v>|d|#stage:{stage},{TAGS}": 1 for stage in ("documents", "diff", "embed",
                                                                               "upsert")},
    })
    assert normalise(agent.lines()) == expected

    # A second run over the unchanged snapshot embeds nothing: no latencies, skipped counts instead.
    store = EdgeStore(tmp_path / "qdrant")
    try:
        run_index(Snapshot(snapshot_dir), store, embedder, batch_size=10)
    finally:
        store.close()
    lines = agent.lines()
    assert f"{NS}.documents.skipped:{DOCS}|c|#{tag}" in lines
    assert f"{NS}.documents.embedded:0|c|#{tag}" in lines
    assert not [line for line in lines if "latency" in line]


def test_cli_index_reports_ok_service_check_and_last_success(agent: Agent, snapshot_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, embedder) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setattr(Invocation, "embedder", lambda *args: embedder)
    result = invoke("index", "--snapshot", str(snapshot_dir), "--json", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    lines = agent.lines()
    run_lines = [line for line in lines if ".run." in line or line.startswith("_")]
    assert normalise(run_lines) == Counter({
        f"{NS}.run.duration:<v>|d|#command:index,status:ok,{TAGS}": 1,
        f"{NS}.run.finished:1|c|#command:index,status:ok,{TAGS}": 1,
        f"{NS}.run.last_success:<v>|g|#command:index,{TAGS}": 1,
    } | {line: 1 for line in run_lines if line.startswith("_sc|")})
    [check] = [line for line in lines if line.startswith("_sc|")]
    assert re.fullmatch(rf"_sc\|keboola_vectorizer\.run\|0\|#command:index,{TAGS}\|"
                        rf"m:index run {RUN_ID} succeeded in [0-9.]+ s", check), check
    assert not [line for line in lines if line.startswith("_e{")]  # no event when all is well
    # The pipeline's own lines came too (counted in the test above).
    assert f"{NS}.documents.extracted:{DOCS}|c|#project_id:{PROJECT},{TAGS}" in lines


class _FailingUpserts(EdgeStore):
    def upsert(self, records: Any) -> None:
        raise StoreError("Qdrant refused the write (m: x)", "check the cluster")


def test_cli_index_failure_sends_critical_check_error_and_event(agent: Agent, snapshot_dir: Path,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                embedder) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setattr(Invocation, "embedder", lambda *args: embedder)
    failing = _FailingUpserts(tmp_path / "qdrant")
    monkeypatch.setattr("keboola_vectorizer.store.factory.open_store", lambda settings, **_: failing)
    result = invoke("index", "--snapshot", str(snapshot_dir), "--json")
    assert isinstance(result.exception, StoreError)
    assert result.exception.kv_stage == "upsert" and result.exception.kv_project_id == PROJECT
    lines = agent.lines()
    failure = [line for line in lines if "errors.raised" in line or ".run." in line or line.startswith("_")]
    message = f"index run {RUN_ID} failed in stage upsert: Qdrant refused the write (m: x) — check the cluster"
    escaped = message.replace("\n", "\\n").replace("m:", "m\\:")
    title = "keboola-vectorizer run failed"
    event_tags = f"command:index,stage:upsert,error:StoreError,{TAGS}"
    assert normalise(failure) == Counter({
        f"{NS}.errors.raised:1|c|#stage:upsert,error:StoreError,{TAGS}": 1,
        f"{NS}.run.duration:<v>|d|#command:index,status:failed,{TAGS}": 1,
        f"{NS}.run.finished:1|c|#command:index,status:failed,{TAGS}": 1,
        f"_sc|keboola_vectorizer.run|2|#command:index,{TAGS}|m:{escaped}": 1,
        f"_e{{{len(title)},{len(message.encode('utf-8'))}}}:{title}|{message}|t:error|#{event_tags}": 1,
    })
    assert not [line for line in lines if "last_success" in line]


def test_cli_failure_before_any_stage_is_tagged_with_the_command(agent: Agent, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    result = invoke("index", "--snapshot", str(tmp_path / "missing"))
    assert result.exit_code != 0
    lines = agent.lines()
    error = type(result.exception).__name__
    assert f"{NS}.errors.raised:1|c|#stage:index,error:{error},{TAGS}" in lines
    assert any(line.startswith("_sc|keboola_vectorizer.run|2|") for line in lines)


def test_search_sends_latency_by_mode_and_failed_search_an_error(agent: Agent, snapshot_dir: Path,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 embedder) -> None:
    store = EdgeStore(tmp_path / "qdrant")
    try:
        run_index(Snapshot(snapshot_dir), store, embedder)
    finally:
        store.close()
    agent.lines()  # the index run's lines are not what this test is about
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    result = invoke("search", "customer orders", "--mode", "sparse", "--json")
    assert result.exit_code == 0, result.output
    assert normalise(agent.lines()) == Counter({f"{NS}.search.latency:<v>|d|#mode:sparse,{TAGS}": 1})

    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "empty"))
    result = invoke("search", "customer orders", "--mode", "sparse")
    assert result.exit_code != 0
    assert agent.lines() == [f"{NS}.errors.raised:1|c|#stage:search,{TAGS}"]


def test_retries_are_counted_by_service(agent: Agent) -> None:
    metrics = get_metrics()
    assert metrics.enabled
    for dependency in ("storage_api", "openai", "qdrant"):
        metrics.retry(dependency)
    assert agent.lines() == [f"{NS}.requests.retried:1|c|#dependency:{s},{TAGS}"
                             for s in ("storage_api", "openai", "qdrant")]


def test_default_service_and_version_tags_when_unset(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DD_SERVICE")
    monkeypatch.delenv("DD_VERSION")
    metrics = Metrics.from_env()
    metrics.retry("openai")
    [line] = agent.lines()
    assert re.fullmatch(rf"{NS}\.requests\.retried:1\|c\|#dependency:openai,service:keboola-vectorizer,"
                        r"version:[^,]+,env:test", line), line


def test_dogstatsd_url_is_honoured(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DD_AGENT_HOST")
    monkeypatch.delenv("DD_DOGSTATSD_PORT")
    monkeypatch.setenv("DD_DOGSTATSD_URL", f"udp://127.0.0.1:{agent.port}")
    Metrics.from_env().search_latency(0.5, "hybrid")
    assert agent.lines() == [f"{NS}.search.latency:0.5|d|#mode:hybrid,{TAGS}"]


@pytest.mark.parametrize("env", [{}, {"DD_AGENT_HOST": "127.0.0.1", "DD_DOGSTATSD_DISABLE": "true"}])
def test_metrics_off_send_nothing_and_import_nothing(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    listener = Agent()
    monkeypatch.setenv("DD_DOGSTATSD_PORT", str(listener.port))
    for name in ("DD_AGENT_HOST", "DD_DOGSTATSD_URL", "DD_DOGSTATSD_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = (
        "import sys\n"
        "from keboola_vectorizer.metrics import get_metrics\n"
        "m = get_metrics()\n"
        "assert not m.enabled\n"
        "m.documents('extracted', 3, 9001); m.stage_duration('embed', 1.0); m.embed_latency(0.1, 'local')\n"
        "m.upsert_latency(0.1); m.retry('qdrant'); m.error('upsert', 'StoreError'); m.search_latency(0.2, 'dense')\n"
        "m.run_finished(False, 'boom', 1.0); m.run_finished(True, 'ok', 1.0); m.flush(); m.close()\n"
        "assert 'datadog' not in sys.modules, 'datadog imported while metrics are off'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert listener.lines(wait=0.1) == []
    listener.sock.close()


def test_unknown_document_outcome_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        Metrics.disabled().documents("vanished", 1)


def test_storage_api_retries_reach_datadog(agent: Agent, storage_api: FakeStorageApi,  # noqa: F811
                                           tmp_path: Path) -> None:
    storage_api.add_fault("/tables", status=503, times=2)
    source = [ProjectSource(url=storage_api.url, token=SecretStr(storage_api.token_for(PROJECT)), label=f"p{PROJECT}")]
    extract_snapshot(source, tmp_path / "snap", timeout_s=0.5, deadline_s=5.0, backoff_s=0.02, backoff_max_s=0.1)
    assert agent.lines() == [f"{NS}.requests.retried:1|c|#dependency:storage_api,{TAGS}"] * 2


def test_failed_extract_is_tagged_with_the_extract_stage(agent: Agent, storage_api: FakeStorageApi,  # noqa: F811
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.setenv("KBC_STORAGE_API_URL", storage_api.url)
    monkeypatch.setenv("KBC_STORAGE_TOKEN", "9999-000000-thisisnotavalidtokenatall")
    result = invoke("index", "--json")
    error = type(result.exception).__name__
    assert error == "KeboolaAuthError", result.output
    lines = agent.lines()
    assert f"{NS}.errors.raised:1|c|#stage:extract,error:{error},{TAGS}" in lines
    assert any(line.startswith("_e{") and f"|#command:index,stage:extract,error:{error}," in line for line in lines)

"""Log lines: JSON with run id, project and stage in the container; readable text on a terminal;
an audit line per search that names the caller by a token hash and never by the token."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from keboola_vectorizer.cli.app import app as cli_app
from keboola_vectorizer.cli.context import Invocation
from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.logging_setup import RUN_ID, configure_logging, context, log_context, register_secrets
from keboola_vectorizer.metrics import Metrics, reset_metrics
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import DEMO, SMALL, copy_snapshot

PROJECT = SMALL  # the demo organisation's sandbox project
DOCS = DEMO.project(SMALL).total
TOKEN = "9002-424242-ThisIsTheSecretStorageToken"
probe = logging.getLogger("keboola_vectorizer.tests.probe")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Datadog, no inherited settings; the root logger's handlers put back afterwards."""
    for name in ("DD_AGENT_HOST", "DD_DOGSTATSD_URL", "LOG_FORMAT", "LOG_LEVEL", "KBC_STORAGE_TOKEN",
                 "KBC_STORAGE_API_URL", "QDRANT_URL", "QDRANT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KV_SECRETS_DIR", "/nonexistent-kv-secrets")
    reset_metrics(Metrics.disabled())
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    reset_metrics(None)


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_snapshot(tmp_path_factory.mktemp("logging") / "snapshot", [PROJECT])


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, snapshot_dir: Path, embedder) -> Path:
    root = tmp_path_factory.mktemp("logging-index")
    store = EdgeStore(root)
    try:
        run_index(Snapshot(snapshot_dir), store, embedder)
    finally:
        store.close()
    return root


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


class _LoggingEmbedder:
    """The real embedder, logging from inside the embed stage."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        probe.info("embedding %d texts", len(texts))
        return self.inner.embed_documents(texts)


class _LoggingStore(EdgeStore):
    """Logs from the upsert thread, so the test sees the context cross the thread boundary."""

    def upsert(self, records: Any) -> None:
        probe.warning("upserting %d points", len(records))
        super().upsert(records)


def test_json_lines_carry_run_id_project_and_stage(capsys: pytest.CaptureFixture[str], snapshot_dir: Path,
                                                   tmp_path: Path, embedder) -> None:
    configure_logging("json", "INFO")
    store = _LoggingStore(tmp_path / "qdrant")
    try:
        run_index(Snapshot(snapshot_dir), store, _LoggingEmbedder(embedder), batch_size=10)
    finally:
        store.close()
    lines = json_lines(capsys.readouterr().err)
    assert lines and all(line["run_id"] == RUN_ID for line in lines)
    embeds = [line for line in lines if line["message"].startswith("embedding")]
    upserts = [line for line in lines if line["message"].startswith("upserting")]
    assert len(embeds) == 3 and len(upserts) == 3
    assert {(line["project_id"], line["stage"], line["level"]) for line in embeds} == {(PROJECT, "embed", "info")}
    assert {(line["project_id"], line["stage"], line["level"]) for line in upserts} == {
        (PROJECT, "upsert", "warning")}
    [done] = [line for line in lines if line["message"].startswith(f"project {PROJECT} indexed")]
    assert (done["project_id"], done["extracted"], done["embedded"], done["skipped"]) == (PROJECT, DOCS, DOCS, 0)
    assert "stage" not in done
    assert {"ts", "level", "logger", "message", "run_id"} <= set(done)
    assert log_context() == {}  # nothing leaks out of the run


def test_text_lines_are_readable_with_the_context_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "INFO")
    probe.info("plain line")
    with context(project_id=9001), context(stage="embed"):
        probe.warning("inside a stage")
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("INFO keboola_vectorizer.tests.probe: plain line")
    assert err[1].endswith("WARNING keboola_vectorizer.tests.probe: inside a stage [project_id=9001 stage=embed]")
    assert not any(line.startswith("{") for line in err)


def test_exceptions_remember_where_they_happened() -> None:
    with pytest.raises(StoreError) as caught, context(project_id=9001), context(stage="upsert"):
        raise StoreError("down")
    assert (caught.value.kv_stage, caught.value.kv_project_id) == ("upsert", 9001)


def test_secrets_are_scrubbed_from_json_fields_too(capsys: pytest.CaptureFixture[str]) -> None:
    register_secrets([TOKEN])
    configure_logging("json", "INFO")
    probe.info("token %s", TOKEN, extra={"detail": {"header": f"Bearer {TOKEN}"}})
    err = capsys.readouterr().err
    assert TOKEN not in err
    [line] = json_lines(err)
    assert line["message"] == "token ***" and line["detail"] == {"header": "Bearer ***"}


def test_search_audit_line_in_json_names_a_token_hash_never_the_token(
        index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(index_dir))
    monkeypatch.setenv("KBC_STORAGE_TOKEN", TOKEN)
    monkeypatch.setenv("LOG_FORMAT", "json")  # what the container sets
    result = CliRunner().invoke(cli_app, ["search", "exchange rates", "--mode", "sparse", "--project",
                                          str(PROJECT), "--kind", "table", "--limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.stdout and TOKEN not in result.stderr
    [audit] = [line for line in json_lines(result.stderr) if line["logger"] == "keboola_vectorizer.audit"]
    assert audit["token_hash"] == hashlib.sha256(TOKEN.encode()).hexdigest()[:12]
    assert audit["query"] == "exchange rates"
    assert audit["filters"] == {"project_ids": [PROJECT], "kinds": ["table"]}
    assert (audit["mode"], audit["limit"], audit["outcome"], audit["audit"]) == ("sparse", 3, "ok", "search")
    assert audit["result_count"] == len(json.loads(result.stdout)) > 0
    assert audit["run_id"] == RUN_ID and audit["level"] == "info"


def test_search_audit_line_in_text_mode_even_at_warning_level(index_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(index_dir))
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    result = CliRunner().invoke(cli_app, ["--log-format", "text", "search", "exchange rates", "--mode", "sparse"])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stderr.splitlines() if "keboola_vectorizer.audit" in line]
    assert " INFO keboola_vectorizer.audit: search by token anonymous: " in line
    assert "results for 'exchange rates' (mode sparse, filters none)" in line
    assert not line.startswith("{")


def test_failed_search_is_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "empty"))
    result = CliRunner().invoke(cli_app, ["--log-format", "json", "search", "anything", "--mode", "sparse"])
    assert result.exit_code != 0
    [audit] = [line for line in json_lines(result.stderr) if line["logger"] == "keboola_vectorizer.audit"]
    assert (audit["outcome"], audit["result_count"], audit["token_hash"]) == ("error", None, "anonymous")


class _FailingUpserts(EdgeStore):
    def upsert(self, records: Any) -> None:
        raise StoreError("Qdrant refused the write", "check the cluster")


def test_failed_index_run_logs_one_json_error_with_stage_and_project(
        snapshot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder) -> None:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setattr(Invocation, "embedder", lambda *args: embedder)
    failing = _FailingUpserts(tmp_path / "qdrant")
    monkeypatch.setattr("keboola_vectorizer.store.factory.open_store", lambda settings, **_: failing)
    result = CliRunner().invoke(cli_app, ["--log-format", "json", "index", "--snapshot", str(snapshot_dir)])
    assert isinstance(result.exception, StoreError)
    [error] = [line for line in json_lines(result.stderr) if line["level"] == "error"]
    assert (error["stage"], error["project_id"], error["error"], error["run_id"], error["logger"]) == (
        "upsert", PROJECT, "StoreError", RUN_ID, "keboola_vectorizer.run")
    assert error["message"] == (f"index run {RUN_ID} failed in stage upsert: "
                                "Qdrant refused the write — check the cluster")

    # On a terminal main() prints the one error line itself; the log adds nothing.
    result = CliRunner().invoke(cli_app, ["--log-format", "text", "index", "--snapshot", str(snapshot_dir)])
    assert isinstance(result.exception, StoreError)
    assert " ERROR " not in result.stderr

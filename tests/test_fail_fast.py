"""An unreachable Qdrant server: commands a person waits on give up after two quick tries with one line;
batch runs keep their backoff and their retry warnings (store/fail_fast.py). Before, `search` against a
closed port retried for 11 s and printed five WARNING lines before its error. The time each takes is
printed by scripts/fail_fast_report.py, not asserted here."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from keboola_vectorizer.config import Settings
from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store import fail_fast
from keboola_vectorizer.store.server import ServerStore
from tests import fault_scenarios as fs


class HangUpServer:
    """Accepts TCP connections and closes them unanswered, counting them: a Qdrant that is down behind
    a load balancer (every connection attempt is visible, unlike a closed port)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def hang_up() -> Iterator[HangUpServer]:
    server = HangUpServer()
    yield server
    server.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fail_meta(store: ServerStore, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    with caplog.at_level(logging.DEBUG, logger="keboola_vectorizer"), \
            pytest.raises(StoreError, match="unreachable") as error:
        store.meta()
    assert error.value.exit_code == 6
    store.close()
    return [r for r in caplog.records if "retry" in r.getMessage()]


def test_an_interactive_store_tries_twice_and_logs_no_warning(hang_up: HangUpServer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    store = ServerStore.from_settings(Settings(qdrant_url=hang_up.url), interactive=True)
    retries = _fail_meta(store, caplog)
    assert hang_up.connections == fail_fast.ATTEMPTS == 2
    assert [r.levelno for r in retries] == [logging.DEBUG]
    http = store.client._client.openapi_client.client._client
    assert http.timeout.connect == fail_fast.CONNECT_TIMEOUT_S and http.timeout.read == 30


def test_a_batch_store_keeps_its_backoff_and_warnings(hang_up: HangUpServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    store = ServerStore.from_settings(Settings(qdrant_url=hang_up.url, qdrant_retry_deadline=3.0))
    retries = _fail_meta(store, caplog)
    assert hang_up.connections >= 3
    assert retries and all(r.levelno == logging.WARNING for r in retries)
    assert len(retries) == hang_up.connections - 1


@pytest.mark.parametrize("command", [["search", "monthly churn"], ["status"], ["similar", "9002/table/x"],
                                     ["lineage", "out.c-crm.company"]], ids=lambda c: c[0])
def test_interactive_commands_print_one_line_for_a_closed_port(command: list[str]) -> None:
    result = fs.run(command, fs.clean_env(QDRANT_URL=f"http://127.0.0.1:{_closed_port()}", HF_HUB_OFFLINE="1"))
    assert result.returncode == 6, result.stderr
    assert result.stderr.strip().splitlines() == fs.error_lines(result), result.stderr  # one line, no warnings
    assert "unreachable" in fs.error_lines(result)[0] and "QDRANT_URL" in fs.error_lines(result)[0]


def test_doctor_reports_a_closed_port_without_retry_warnings() -> None:
    result = fs.run(["doctor"], fs.clean_env(QDRANT_URL=f"http://127.0.0.1:{_closed_port()}"))
    assert result.returncode != 0
    assert "FAIL qdrant reachable" in result.stdout and "unreachable" in result.stdout
    assert "WARNING" not in result.stderr and "retry" not in result.stderr.lower()

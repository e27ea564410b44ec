"""`search` through a running service (KV_SERVICE_URL): same output and exit codes as a local search."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.mini_org import REVENUE_QUESTION, REVENUE_TABLE
from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import start_service, wait_ready
from tests.service_server import free_port


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as people run it (a search through a service takes the thin path)."""
    return _process(["-m", "keboola_vectorizer.cli", *args], env)


def _full_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The same command line through the full Typer CLI, never the thin path."""
    return _process(["-c", "from keboola_vectorizer.cli.runner import main; main()", *args], env)


def _process(python_args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KV_", "QDRANT_"))}
    full_env.update(HF_HUB_OFFLINE="1", **env)
    return subprocess.run([sys.executable, *python_args], env=full_env, capture_output=True, text=True, timeout=300)


def test_service_search_prints_what_a_local_search_prints(service_index: Path, service_url: str,
                                                         tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    shutil.copytree(service_index, root)
    for args in ([REVENUE_QUESTION, "--json"], ["oven", "--kind", "column", "--limit", "4", "--json"],
                 ["hourly temperature", "--project", "702", "--mode", "sparse", "--json"],
                 [REVENUE_QUESTION, "--explain", "--json"]):
        local = _cli("search", *args, QDRANT_PATH=str(root))
        remote = _cli("search", *args, KV_SERVICE_URL=service_url, QDRANT_PATH=str(tmp_path / "no-index"))
        assert (local.returncode, remote.returncode) == (0, 0), remote.stderr
        assert json.loads(remote.stdout) == json.loads(local.stdout)
        assert json.loads(remote.stdout)  # a comparison of two empty lists would prove nothing
    first = json.loads(_cli("search", REVENUE_QUESTION, "--json", KV_SERVICE_URL=service_url).stdout)[0]
    assert first["id"] == REVENUE_TABLE and first["explain"] is None
    explained = json.loads(_cli("search", REVENUE_QUESTION, "--explain", "--json", KV_SERVICE_URL=service_url).stdout)
    assert explained[0]["explain"] and "dense_rank" in explained[0]["explain"]
    text = _cli("search", REVENUE_QUESTION, KV_SERVICE_URL=service_url)
    assert text.returncode == 0 and "daily_revenue" in text.stdout and "Results for" in text.stdout


def test_a_search_through_the_service_loads_no_model_runtime(service_url: str) -> None:
    """The CLI only asks the service: neither numpy nor a model runtime is imported, and the process
    leaves with its whole answer (cli/runner.py)."""
    probe = ("import sys; from keboola_vectorizer.cli.runner import run; "
             f"code = run(['search', {REVENUE_QUESTION!r}, '--json']); sys.stdout.flush(); "
             "print('MODULES', code, *(m in sys.modules for m in ('numpy', 'onnxruntime', 'torch')),"
             " file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KV_", "QDRANT_"))}
    done = subprocess.run([sys.executable, "-c", probe], env={**env, "KV_SERVICE_URL": service_url},
                          capture_output=True, text=True, timeout=300)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES"))
    assert line == "MODULES 0 False False False", line
    assert json.loads(done.stdout)[0]["id"] == REVENUE_TABLE


def test_service_search_errors_keep_the_exit_codes(service_url: str, tmp_path: Path, embedder: Any) -> None:
    empty = _cli("search", "  ", KV_SERVICE_URL=service_url)
    assert empty.returncode == 3 and empty.stderr.count("\n") == 1
    bad_stage = _cli("search", "x", "--stage", "mid", KV_SERVICE_URL=service_url)
    assert bad_stage.returncode == 3
    down = _cli("search", "shop", KV_SERVICE_URL=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 11 and "cannot reach the search service" in down.stderr
    assert down.stderr.count("\n") == 1 and "Traceback" not in down.stderr
    with start_service(tmp_path / "empty", embedder, api_key="cli-key-77") as (url, _engine):
        no_key = _cli("search", "shop", KV_SERVICE_URL=url)
        assert no_key.returncode == 11 and "KV_API_KEY" in no_key.stderr
        wrong = _cli("search", "shop", KV_SERVICE_URL=url, KV_API_KEY="not-it")
        assert wrong.returncode == 11 and "not-it" not in wrong.stderr
        missing_index = _cli("search", "shop", KV_SERVICE_URL=url, KV_API_KEY="cli-key-77")
        assert missing_index.returncode == 10 and "index" in missing_index.stderr


def test_the_thin_search_prints_what_the_full_cli_prints(service_url: str, tmp_path: Path, embedder: Any) -> None:
    def same(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        thin, full = _cli("search", *args, **env), _full_cli("search", *args, **env)
        assert (thin.returncode, thin.stdout, thin.stderr) == (full.returncode, full.stdout, full.stderr), args
        return thin

    for args in ([REVENUE_QUESTION], [REVENUE_QUESTION, "--explain"], [REVENUE_QUESTION, "--json"],
                 ["oven", "--kind", "column", "--limit", "4", "--json"], ["zzzq xyzzy", "--project", "1"]):
        assert same(*args, KV_SERVICE_URL=service_url).returncode == 0
    assert "daily_revenue" in same(REVENUE_QUESTION, KV_SERVICE_URL=service_url).stdout
    down = same("shop", KV_SERVICE_URL=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 11 and down.stderr.count("\n") == 1
    with start_service(tmp_path / "empty", embedder, api_key="cli-key-78") as (url, _engine):
        assert same("shop", KV_SERVICE_URL=url).returncode == 11
        wrong = same("shop", KV_SERVICE_URL=url, KV_API_KEY="not-it-either")
        assert wrong.returncode == 11 and "not-it-either" not in wrong.stderr
        assert same("shop", "--json", KV_SERVICE_URL=url, KV_API_KEY="cli-key-78").returncode == 10


def test_a_json_search_through_the_service_imports_no_cli_framework(service_url: str) -> None:
    """The thin path: none of Typer, rich, pydantic, httpx or numpy is imported for `--json`."""
    heavy = ("typer", "rich", "pydantic", "pydantic_settings", "httpx", "numpy")
    probe = ("import atexit, sys; "
             f"atexit.register(lambda: print('MODULES', *(m in sys.modules for m in {heavy!r}), file=sys.stderr)); "
             f"sys.argv = ['keboola-vectorizer', 'search', {REVENUE_QUESTION!r}, '--json']; "
             "from keboola_vectorizer.cli.entry import main; main()")
    done = _process(["-c", probe], {"KV_SERVICE_URL": service_url})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["id"] == REVENUE_TABLE
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES"))
    assert line == "MODULES" + " False" * len(heavy), line


def test_a_service_that_does_not_answer_in_time_is_one_line_naming_the_timeout() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts connections, never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        slow = _cli("search", "shop", "--json", KV_SERVICE_URL=url, KV_SERVICE_TIMEOUT="0.5")
    finally:
        silent.close()
    assert slow.returncode == 11 and slow.stdout == ""
    assert "did not answer within 0.5 s" in slow.stderr and "KV_SERVICE_TIMEOUT" in slow.stderr
    assert slow.stderr.count("\n") == 1


def test_an_answer_the_cli_cannot_read_is_one_line_either_way() -> None:
    """A service answering results without their fields (another program on the port): the thin path
    ends with the full CLI's last-resort line and exit code, never a traceback."""
    class Broken(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"results": [{"id": "1/table/in.c-a.b"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        thin, full = _cli("search", "shop", "--json", KV_SERVICE_URL=url), _full_cli("search", "shop", "--json",
                                                                                     KV_SERVICE_URL=url)
    finally:
        server.shutdown()
    assert (thin.returncode, thin.stdout, thin.stderr) == (full.returncode, full.stdout, full.stderr)
    assert thin.returncode == 1 and "unexpected TypeError" in thin.stderr and thin.stderr.count("\n") == 1


def test_ready_service_fixture_is_really_ready(service_url: str) -> None:
    wait_ready(service_url, timeout=1)


def test_serve_beyond_loopback_wants_a_key(tmp_path: Path) -> None:
    refused = _cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), QDRANT_PATH=str(tmp_path))
    assert refused.returncode == 3 and "without an API key" in refused.stderr
    assert refused.stderr.count("\n") == 1

"""Secrets never leave: known Keboola tokens, OpenAI keys and a Qdrant API key are planted everywhere a
run can read them (environment, secret files, a projects config), the fakes echo them back in answers
and errors the way real services sometimes do, and every scenario — success and failure, `--json`,
`--verbose` (DEBUG, including the HTTP libraries' own loggers), `--log-format json`, retries — is
scanned: stdout, stderr, every file it wrote (snapshots, vectors, the store's own files) and every
DogStatsD packet it sent.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SMALL, copy_snapshot
from tests.fakes.http_json import send_json
from tests.fakes.openai_server import FakeOpenAI, Fault
from tests.fakes.storage_api import FakeStorageApi
from tests.fault_scenarios import clean_env, run

PROJECT = SMALL  # the demo sandbox project
# Each secret carries a distinctive core: a leak of the core (a partial or re-encoded secret) counts too.
KBC_TOKEN = "9002-481337-KbcSecretCore7f3a9cD1e5b0aa42"
KBC_TOKEN_FILE = "9002-481338-KbcFileSecretCore2b4d6f8a0c"
OPENAI_KEY = "sk-proj-OaSecretCore8c2e4d6f1a3b5c7d9e0f1a2b"
OPENAI_KEY_WRONG = "sk-proj-OaWrongSecretCore3e5a7c9b1d2f4a6c"
QDRANT_KEY = "qd-QdSecretCore5b7d9f1e3c5a7b9d1f3e5c7a"
SECRETS = {
    KBC_TOKEN: "KbcSecretCore7f3a9c",
    KBC_TOKEN_FILE: "KbcFileSecretCore2b4d",
    OPENAI_KEY: "OaSecretCore8c2e4d",
    OPENAI_KEY_WRONG: "OaWrongSecretCore3e5a",
    QDRANT_KEY: "QdSecretCore5b7d9f",
}


class _EchoQdrant(BaseHTTPRequestHandler):
    """A Qdrant stand-in that answers every request with an error quoting the api-key header it got."""

    status = 500

    def _answer(self) -> None:
        send_json(self, self.status, {"status": {"error": f"Invalid api-key {self.headers.get('api-key')}"},
                                      "time": 0})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class World:
    root: Path
    api: FakeStorageApi
    openai: FakeOpenAI
    qdrant_url: str
    qdrant_handler: type[_EchoQdrant]
    statsd: socket.socket
    packets: list[bytes] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (scenario, text)
    runs: int = 0

    def env(self, **extra: str) -> dict[str, str]:
        port = self.statsd.getsockname()[1]
        env = clean_env(KBC_STORAGE_API_URL=self.api.url, KBC_STORAGE_TOKEN=KBC_TOKEN,
                        OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=self.openai.base_url,
                        QDRANT_API_KEY=QDRANT_KEY, QDRANT_PATH=str(self.root / "qdrant"),
                        KBC_TIMEOUT="2", KBC_RETRY_DEADLINE="3", OPENAI_TIMEOUT="2", OPENAI_RETRY_DEADLINE="3",
                        QDRANT_RETRY_DEADLINE="2", KV_SECRETS_DIR=str(self.root / "no-secrets-dir"),
                        DD_AGENT_HOST="127.0.0.1", DD_DOGSTATSD_PORT=str(port))
        env.update(extra)
        return env

    def cli(self, name: str, args: list[str], code: int | None = 0, **extra_env: str) -> Any:
        result = run(args, self.env(**extra_env), timeout=120)
        self.runs += 1
        self.outputs.append((f"{name}: stdout", result.stdout))
        self.outputs.append((f"{name}: stderr", result.stderr))
        if code is not None:
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")
                      or '"level": "error"' in line or '"level": "warning"' in line]
            assert result.returncode == code, (name, result.returncode, errors[-5:] or result.stderr[-2000:])
        return result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("secrets")
    org = copy_snapshot(root / "org", [PROJECT])
    projects = json.loads((org / "projects.json").read_text())
    projects[0]["token"] = KBC_TOKEN
    projects.append({**projects[0], "token": KBC_TOKEN_FILE})  # the same project, a second token
    (org / "projects.json").write_text(json.dumps(projects))
    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    statsd.bind(("127.0.0.1", 0))
    statsd.settimeout(0.2)
    handler = type("Handler", (_EchoQdrant,), {"status": 500})
    qdrant = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=qdrant.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    with FakeStorageApi(org) as api, FakeOpenAI(api_key=OPENAI_KEY) as openai:
        api.echo_token = True  # tokens/verify answers with the caller's token, as some stacks do
        world = World(root, api, openai, f"http://127.0.0.1:{qdrant.server_address[1]}", handler, statsd)
        stop = threading.Event()

        def drain() -> None:
            while not stop.is_set():
                try:
                    world.packets.append(statsd.recv(65535))
                except OSError:
                    continue

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        yield world
        stop.set()
        drainer.join(timeout=2)
    qdrant.shutdown()
    qdrant.server_close()
    statsd.close()


def _leaks(text: str) -> list[str]:
    return [core for secret, core in SECRETS.items() if secret in text or core in text]


def _scan_files(root: Path) -> dict[str, list[str]]:
    """Every file the runs wrote under `root` (not the fakes' input in org/ nor the planted secrets/)."""
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.relative_to(root).parts[0] not in ("org", "secrets"):
            data = path.read_bytes()
            hits = [core for secret, core in SECRETS.items() if secret.encode() in data or core.encode() in data]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_no_secret_in_any_output(world: World) -> None:
    root = world.root
    api, openai = world.api, world.openai

    # -- success paths ------------------------------------------------------------------------------
    world.cli("extract verbose", ["--verbose", "extract", "--out", str(root / "extracted")])
    world.cli("index json+verbose", ["--verbose", "index", "--provider", "openai", "--json",
                                     "--keep-snapshot", str(root / "kept")])
    world.cli("search json", ["search", "euro exchange rates", "--json"])
    world.cli("search text verbose", ["--verbose", "search", "euro exchange rates"])
    world.cli("similar", ["similar", f"{PROJECT}/table/in.c-reference.exchange_rates", "--json"])
    world.cli("status json", ["status", "--json"])
    world.cli("documents", ["documents", "--snapshot", str(root / "kept")])
    world.cli("embed", ["--verbose", "embed", "--snapshot", str(root / "kept"), "--full",
                        "--provider", "openai", "--out", str(root / "vectors.jsonl")])
    world.cli("upsert", ["--verbose", "upsert", "--snapshot", str(root / "kept"), "--vectors",
                         str(root / "vectors.jsonl"), "--json"])
    world.cli("doctor text", ["--verbose", "doctor"], code=None)
    world.cli("snapshot create", ["snapshot", "create", "--json"])

    # -- secrets from files and a projects config ---------------------------------------------------
    secrets_dir = root / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "kbc-storage-token").write_text(KBC_TOKEN_FILE + "\n")
    (secrets_dir / "OPENAI_API_KEY").write_text(OPENAI_KEY)
    world.cli("index secret files json-logs", ["--log-format", "json", "--verbose", "index", "--provider",
                                               "openai", "--json"],
              KV_SECRETS_DIR=str(secrets_dir), KBC_STORAGE_TOKEN="", OPENAI_API_KEY="")
    config = root / "projects.yaml"
    config.write_text(f"projects:\n  - url: {api.url}\n    token_env: KBC_TOKEN_MAIN\n    name: main\n")
    world.cli("extract projects config", ["--verbose", "extract", "--projects-config", str(config), "--out",
                                          str(root / "extracted-config")], KBC_TOKEN_MAIN=KBC_TOKEN)

    # -- transient faults: every retry is logged, nothing it logs holds a secret ---------------------
    api.add_fault("/tables", "status", status=429, retry_after=0,
                  body={"error": f"Too many requests for token {KBC_TOKEN}", "code": "tooMany"})
    api.add_fault("/buckets", "status", status=500, body={"error": f"Boom {KBC_TOKEN}", "code": "boom"})
    api.add_fault("/components", "drop")
    openai.inject(Fault.server_error(500))
    openai.inject(Fault.rate_limit(retry_after_s=0))
    # Deadlines long enough that the retries finish on a loaded machine: this step is about what the
    # retries log, not about giving up.
    faulty = world.cli("index with retries", ["--log-format", "json", "--verbose", "index", "--provider", "openai",
                                              "--json", "--rebuild"], OPENAI_RETRY_DEADLINE="20",
                       KBC_RETRY_DEADLINE="20")
    assert faulty.stderr.count("retry") >= 4, faulty.stderr[-3000:]
    api.clear_faults()

    # -- failures: one error line, no secret in it ---------------------------------------------------
    api.add_fault("/tokens/verify", "status", status=401, times=10,
                  body={"error": f"Invalid access token {KBC_TOKEN}", "code": "storage.tokenInvalid"})
    world.cli("kbc token rejected", ["--verbose", "index", "--provider", "openai"], code=4)
    api.clear_faults()
    api.add_fault("/tables", "status", status=503, times=1000,
                  body={"error": f"Service down, token {KBC_TOKEN}", "code": "down"})
    world.cli("kbc down json logs", ["--log-format", "json", "--verbose", "index", "--provider", "openai"], code=5)
    api.clear_faults()
    api.add_fault("/buckets", "status", status=400,
                  body={"error": f"Bad request by {KBC_TOKEN}", "code": "bad"})
    world.cli("kbc 400", ["index", "--provider", "openai", "--json"], code=5)
    api.clear_faults()
    world.cli("kbc unknown token", ["index", "--provider", "openai"], code=4, KBC_STORAGE_TOKEN=KBC_TOKEN + "x")
    world.cli("openai wrong key", ["--verbose", "index", "--snapshot", str(root / "kept"), "--provider", "openai",
                                   "--rebuild"], code=8, OPENAI_API_KEY=OPENAI_KEY_WRONG)
    world.cli("openai wrong key json logs", ["--log-format", "json", "search", "twilio", "--json"], code=8,
              OPENAI_API_KEY=OPENAI_KEY_WRONG)
    world.cli("qdrant 500 echoing the key", ["--verbose", "index", "--snapshot", str(root / "kept"), "--provider",
                                             "openai"], code=6, QDRANT_URL=world.qdrant_url)
    world.qdrant_handler.status = 401
    world.cli("qdrant 401 echoing the key", ["--log-format", "json", "--verbose", "status", "--json"], code=6,
              QDRANT_URL=world.qdrant_url)
    world.cli("qdrant doctor", ["doctor", "--json"], code=1, QDRANT_URL=world.qdrant_url)
    world.cli("debug env", ["index", "--provider", "openai"], code=4, KV_DEBUG="1",
              KBC_STORAGE_TOKEN=KBC_TOKEN + "y")

    # -- the scan ------------------------------------------------------------------------------------
    leaks = {name: _leaks(text) for name, text in world.outputs if _leaks(text)}
    assert leaks == {}, leaks
    assert world.runs >= 20
    file_leaks = _scan_files(root)
    assert file_leaks == {}, file_leaks
    assert any((root / "kept").rglob("tokens-verify.json"))  # the token-echoing answer was written ...
    packets = b"\n".join(world.packets)
    assert packets, "no DogStatsD packet arrived: the scan of metrics would prove nothing"
    assert [core for secret, core in SECRETS.items() if secret.encode() in packets or core.encode() in packets] == []

"""The bad-input matrix: every foreseeable wrong input is one clear line and a documented exit code
(README.md), and nothing is half-written — no points added to or removed from the store, no snapshot
left behind. Odd but valid input (an empty project, a 5 MB configuration, emoji, NUL bytes) indexes.

Every case runs the real CLI in a subprocess, against the fake Storage API and the fake OpenAI server
over real HTTP where it needs them.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO, SECOND, SMALL, copy_snapshot
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.storage_api import FakeStorageApi
from tests.fault_scenarios import clean_env, read_edge, run

PROJECT = SMALL  # the demo sandbox project: the one extracted live
OTHER = SECOND  # the one the odd-input cases edit
OTHER_DIR = str(OTHER)
BAD_TOKEN = "3011-000000-ThisTokenIsNotKnownAnywhere"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A fake Storage API and a fake OpenAI server, and a small index built with 256-dim OpenAI vectors."""
    root = tmp_path_factory.mktemp("bad-input")
    org = copy_snapshot(root / "org", [PROJECT, OTHER])
    with FakeStorageApi(org) as api, FakeOpenAI() as openai:
        index = root / "index"
        env = clean_env(QDRANT_PATH=str(index), OPENAI_API_KEY=openai.api_key, OPENAI_BASE_URL=openai.base_url)
        built = run(["index", "--snapshot", str(org), "--provider", "openai", "--dimensions", "256"], env)
        assert built.returncode == 0, built.stderr
        yield {"api": api, "openai": openai, "org": org, "index": index}
        api.clear_faults()


@dataclass
class Ctx:
    tmp: Path
    env: dict[str, str]
    api: FakeStorageApi
    openai: FakeOpenAI
    snapshot: Path  # a writable copy of projects PROJECT and OTHER
    existing_index: Path
    secrets: list[str] = field(default_factory=list)

    def live(self, url: str | None = None, token: str | None = None) -> None:
        """Extract from the fake Storage API (or `url`) with PROJECT's token (or `token`)."""
        self.env["KBC_STORAGE_API_URL"] = url or self.api.url
        self.env["KBC_STORAGE_TOKEN"] = token if token is not None else self.api.token_for(PROJECT)
        self.secrets.append(self.env["KBC_STORAGE_TOKEN"])

    def use_existing_index(self) -> None:
        shutil.copytree(self.existing_index, self.tmp / "q")

    def edit(self, relative: str, change: Callable[[Any], Any] | None = None, raw: bytes | None = None) -> None:
        path = self.snapshot / relative
        if raw is not None:
            path.write_bytes(raw)
            return
        assert change is not None
        path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8"))), ensure_ascii=False),
                        encoding="utf-8")

    def projects_config(self, text: str) -> str:
        path = self.tmp / "projects.yaml"
        path.write_text(text.replace("{url}", self.api.url), encoding="utf-8")
        return str(path)


@dataclass
class Case:
    id: str
    args: list[str]
    code: int
    needles: tuple[str, ...] = ()
    setup: Callable[[Ctx], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _projects_config(text: str, token_var: str | None = "KBC_TOKEN_P") -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        if token_var:
            ctx.env[token_var] = ctx.api.token_for(PROJECT)
        ctx.env["PROJECTS_FILE"] = ctx.projects_config(text)
    return setup


def _fault(route: str, status: int, message: str, code: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.live()
        ctx.api.add_fault(route, "status", status=status, times=100,
                          body={"error": message, "code": code, "status": "error"})
    return setup


INDEX_LIVE = ["index", "--provider", "openai", "--keep-snapshot", "{tmp}/kept"]
INDEX_SNAP = ["index", "--snapshot", "{snap}", "--provider", "openai"]

CASES = [
    # -- Keboola token and stack -------------------------------------------------------------------
    Case("kbc-token-invalid", INDEX_LIVE, 4, ("rejected the token", "KBC_STORAGE_TOKEN"),
         lambda c: c.live(token=BAD_TOKEN)),
    Case("kbc-token-expired", INDEX_LIVE, 4, ("rejected the token",),
         _fault("/tokens/verify", 401, "Token has expired", "storage.tokenExpired")),
    Case("kbc-token-without-access", INDEX_LIVE, 4, ("may not read", "Token has no access to bucket"),
         _fault("/buckets", 403, "Token has no access to bucket", "accessDenied")),
    Case("kbc-token-programmatic", INDEX_LIVE, 4, ("not a Storage API token",),
         lambda c: c.live(token="kbc_pat_0123456789abcdef0123456789abcdef")),
    Case("kbc-token-missing", INDEX_LIVE, 4, ("KBC_STORAGE_TOKEN",), lambda c: c.live(token="")),
    Case("kbc-url-missing", INDEX_LIVE, 3, ("KBC_STORAGE_API_URL",)),
    Case("kbc-stack-unresolvable", INDEX_LIVE, 5, ("does not resolve",),
         lambda c: c.live(url="https://no-such-stack.invalid")),
    Case("kbc-stack-refusing", INDEX_LIVE, 5, ("unreachable",), lambda c: c.live(url=closed_port_url())),
    Case("kbc-stack-not-keboola", INDEX_LIVE, 5, ("HTTP 404",),
         _fault("/v2/storage", 404, "Route not found", "notFound")),
    Case("kbc-url-without-scheme", INDEX_LIVE, 3, ("KBC_STORAGE_API_URL", "https"),
         lambda c: c.live(url="connection.keboola.com")),
    Case("kbc-url-plain-http", INDEX_LIVE, 3, ("plain http",), lambda c: c.live(url="http://connection.keboola.com")),
    Case("kbc-url-with-api-path", INDEX_LIVE, 3, ("bare stack URL",),
         lambda c: c.live(url="https://connection.keboola.com/v2/storage")),
    # -- projects config ---------------------------------------------------------------------------
    Case("projects-config-bad-yaml", [*INDEX_LIVE, "--projects-config", "{PROJECTS_FILE}"], 3, ("projects config",),
         _projects_config("projects: [url: {url}\n  - token_env: [")),
    Case("projects-config-missing", [*INDEX_LIVE, "--projects-config", "{tmp}/nope.yaml"], 3, ("does not exist",)),
    Case("projects-config-no-url", [*INDEX_LIVE, "--projects-config", "{PROJECTS_FILE}"], 3, ("url",),
         _projects_config("projects:\n  - token_env: KBC_TOKEN_P\n")),
    Case("projects-config-token-env-unset", [*INDEX_LIVE, "--projects-config", "{PROJECTS_FILE}"], 3,
         ("KBC_TOKEN_NOT_SET",), _projects_config("projects:\n  - url: {url}\n    token_env: KBC_TOKEN_NOT_SET\n")),
    Case("projects-config-not-a-list", [*INDEX_LIVE, "--projects-config", "{PROJECTS_FILE}"], 3, ("non-empty list",),
         _projects_config("projects: 5\n")),
    Case("projects-config-inline-token", [*INDEX_LIVE, "--projects-config", "{PROJECTS_FILE}"], 3, ("token",),
         _projects_config("projects:\n  - url: {url}\n    token: 3011-inline-token-in-file\n", None)),
    Case("projects-config-same-project-twice", [*INDEX_LIVE, "--projects-config", "{PROJECTS_FILE}"], 3,
         ("repeats",), _projects_config("projects:\n  - url: {url}\n    token_env: KBC_TOKEN_P\n"
                                        "  - url: {url}\n    token_env: KBC_TOKEN_P\n")),
    # -- options and settings ----------------------------------------------------------------------
    Case("unknown-option", [*INDEX_SNAP, "--frobnicate"], 2, ("--frobnicate",)),
    Case("unknown-command", ["frobnicate"], 2, ("frobnicate",)),
    Case("unknown-kind", ["search", "churn", "--kind", "spreadsheet"], 2, ("spreadsheet",)),
    Case("unknown-mode", ["search", "churn", "--mode", "fuzzy"], 2, ("fuzzy",)),
    Case("limit-zero", ["search", "churn", "--limit", "0"], 2, ("--limit",)),
    Case("batch-size-zero", [*INDEX_SNAP, "--batch-size", "0"], 2, ("--batch-size",)),
    Case("unknown-stage", ["search", "churn", "--stage", "middle"], 3, ("middle",)),
    Case("unknown-provider", ["index", "--snapshot", "{snap}", "--provider", "palm"], 3, ("palm",)),
    Case("log-format-unknown", INDEX_SNAP, 3, ("LOG_FORMAT",), env={"LOG_FORMAT": "xml"}),
    Case("lock-timeout-not-a-number", INDEX_SNAP, 3, ("KV_LOCK_TIMEOUT",), env={"KV_LOCK_TIMEOUT": "soon"}),
    Case("kbc-timeout-negative", INDEX_LIVE, 3, ("KBC_TIMEOUT",), lambda c: c.live(), {"KBC_TIMEOUT": "-1"}),
    Case("shard-count-not-a-number", INDEX_LIVE, 3, ("KV_SHARD_COUNT",), lambda c: c.live(),
         {"KV_SHARD_COUNT": "two"}),
    Case("shard-index-out-of-range", [*INDEX_LIVE, "--shard-index", "5", "--shard-count", "2"], 3, ("shard",),
         lambda c: c.live()),
    Case("search-query-empty", ["search", "   "], 3, ("empty",)),
    # -- snapshots ---------------------------------------------------------------------------------
    Case("snapshot-missing", ["index", "--snapshot", "{tmp}/nope", "--provider", "openai"], 7, ("does not exist",)),
    Case("snapshot-path-with-markup", ["index", "--snapshot", "{tmp}/odd [/] [bold]dir", "--provider", "openai"], 7,
         ("odd [/] [bold]dir",), lambda c: (c.tmp / "odd [/] [bold]dir").mkdir(parents=True)),
    Case("snapshot-not-a-snapshot", ["index", "--snapshot", "{tmp}", "--provider", "openai"], 7, ("projects.json",)),
    Case("snapshot-file-missing", INDEX_SNAP, 7, ("tables.json",),
         lambda c: (c.snapshot / OTHER_DIR / "tables.json").unlink()),
    Case("snapshot-file-corrupt", INDEX_SNAP, 7, ("tables.json", "not valid JSON"),
         lambda c: c.edit(f"{PROJECT}/tables.json", raw=b"{not json")),
    Case("snapshot-file-truncated", INDEX_SNAP, 7, ("components.json",),
         lambda c: c.edit(f"{PROJECT}/components.json",
                          raw=(c.snapshot / f"{PROJECT}/components.json").read_bytes()[:5000])),
    Case("snapshot-second-project-corrupt", INDEX_SNAP, 7, (OTHER_DIR,),
         lambda c: c.edit(f"{OTHER}/components.json", raw=b"[{\"id\": ")),
    Case("snapshot-file-wrong-shape", INDEX_SNAP, 7, ("buckets.json",),
         lambda c: c.edit(f"{PROJECT}/buckets.json", lambda _: {"buckets": []})),
    Case("snapshot-file-not-utf8", INDEX_SNAP, 7, ("components.json",),
         lambda c: c.edit(f"{OTHER}/components.json", raw=b"[\xff\xfe\x00]")),
    Case("snapshot-project-id-not-a-number", INDEX_SNAP, 7, ("project id",),
         lambda c: c.edit("projects.json", lambda p: [{**p[0], "id": "nine"}])),
    Case("snapshot-table-without-id", INDEX_SNAP, 7, ("tables.json",),
         lambda c: c.edit(f"{OTHER}/tables.json", lambda t: [{k: v for k, v in t[0].items() if k != "id"}, *t[1:]])),
    Case("snapshot-configuration-not-an-object", INDEX_SNAP, 7, ("components.json",),
         lambda c: c.edit(f"{OTHER}/components.json", lambda cs: [{**cs[0], "configurations": ["oops"]}, *cs[1:]])),
    Case("vectors-file-corrupt", ["upsert", "--snapshot", "{snap}", "--vectors", "{tmp}/vectors.jsonl"], 7,
         ("vectors file",), lambda c: (c.tmp / "vectors.jsonl").write_text("not json\n")),
    # -- store -------------------------------------------------------------------------------------
    Case("dimension-mismatch", [*INDEX_SNAP, "--dimensions", "512"], 6, ("--rebuild", "@256"),
         lambda c: c.use_existing_index()),
    Case("model-mismatch", [*INDEX_SNAP, "--model", "text-embedding-3-large"], 6, ("--rebuild",),
         lambda c: c.use_existing_index()),
    Case("qdrant-unreachable", INDEX_SNAP, 6, ("unreachable", "QDRANT_URL"),
         lambda c: c.env.update(QDRANT_URL=closed_port_url(), QDRANT_RETRY_DEADLINE="2")),
    Case("qdrant-url-malformed", INDEX_SNAP, 3, ("QDRANT_URL",), env={"QDRANT_URL": "qdrant:six-three-three-three"}),
    Case("qdrant-path-is-a-file", INDEX_SNAP, 6, ("QDRANT_PATH",),
         lambda c: (c.tmp / "q").write_text("a file, not a directory")),
    Case("search-without-index", ["search", "churn"], 10, ("keboola-vectorizer index",)),
    Case("eval-questions-missing", ["eval", "--questions", "{tmp}/none.jsonl"], 3, ("none.jsonl",),
         lambda c: c.use_existing_index()),
    # -- embedding provider ------------------------------------------------------------------------
    Case("openai-key-missing", INDEX_SNAP, 3, ("OPENAI_API_KEY",), env={"OPENAI_API_KEY": ""}),
    Case("openai-key-wrong", INDEX_SNAP, 8, ("401", "OPENAI_API_KEY"), env={"OPENAI_API_KEY": "sk-wrong-0123456789"}),
    Case("openai-model-unknown", [*INDEX_SNAP, "--model", "text-embedding-9-huge"], 8, ("text-embedding-9-huge",)),
    Case("openai-dimensions-too-many", [*INDEX_SNAP, "--dimensions", "99999"], 3, ("99999",)),
    Case("local-model-missing", ["index", "--snapshot", "{snap}"], 8, ("/nonexistent/model-dir",),
         env={"EMBEDDING_MODEL": "/nonexistent/model-dir"}),
]


def _format(args: list[str], ctx: Ctx) -> list[str]:
    values = {"tmp": str(ctx.tmp), "snap": str(ctx.snapshot), "PROJECTS_FILE": ctx.env.get("PROJECTS_FILE", "")}
    return [arg.format(**values) for arg in args]


def _leftovers(tmp: Path) -> list[str]:
    """Snapshot or temp directories a failed run left behind."""
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith((".kept", "kept")))


def test_matrix_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)
    assert {case.code for case in CASES} >= {2, 3, 4, 5, 6, 7, 8, 10}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case: Case, services: dict[str, Any], tmp_path: Path) -> None:
    api: FakeStorageApi = services["api"]
    openai: FakeOpenAI = services["openai"]
    api.clear_faults()
    snapshot = copy_snapshot(tmp_path / "snap", [PROJECT, OTHER])
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(QDRANT_PATH=str(work / "q"), OPENAI_API_KEY=openai.api_key, OPENAI_BASE_URL=openai.base_url,
                    KBC_TIMEOUT="2", KBC_RETRY_DEADLINE="4")
    ctx = Ctx(work, env, api, openai, snapshot, services["index"], secrets=[openai.api_key])
    if case.setup is not None:
        case.setup(ctx)
    ctx.env.update(case.env)
    store_path = work / "q"
    before = read_edge(store_path) if store_path.is_dir() else None
    try:
        result = run(_format(case.args, ctx), ctx.env, timeout=120)
    finally:
        api.clear_faults()

    assert result.returncode == case.code, (result.returncode, result.stderr[-3000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(" WARNING " in line for line in lines[:-1]), result.stderr  # retries may be logged
    assert "Traceback" not in result.stderr and "unexpected" not in errors[0]
    for needle in case.needles:
        assert needle in errors[0], errors[0]
    assert result.stdout.strip() == "", result.stdout
    for secret in filter(None, ctx.secrets):
        assert secret not in result.stderr + result.stdout
    # Nothing half-written: the store holds what it held before (nothing, or the untouched index) ...
    if store_path.is_dir():
        after = read_edge(store_path)
        expected = before or after.__class__([], {}, 0)
        assert (after.hashes, after.count) == (expected.hashes, expected.count)
    # ... and no snapshot, whole or partial, was kept.
    assert _leftovers(work) == []


# -- odd but valid input: indexes, and search finds what it should ---------------------------------

def _empty_project(ctx: Ctx) -> None:
    for name in ("buckets.json", "tables.json", "components.json"):
        ctx.edit(f"{OTHER}/{name}", lambda _: [])


def _huge_configuration(ctx: Ctx) -> None:
    def grow(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = components[0]["configurations"][0]
        config["description"] = "Zzqhugeprobe configuration with a very long SQL script"
        config["configuration"] = {"parameters": {"blocks": [{"codes": [{"script": [
            f"SELECT {i} AS c{i} FROM huge_table_{i % 97} WHERE note = '{'x' * 40}';" for i in range(60_000)]}]}]}}
        return components

    ctx.edit(f"{OTHER}/components.json", grow)
    assert (ctx.snapshot / f"{OTHER}/components.json").stat().st_size > 5_000_000


def _unicode_names(ctx: Ctx) -> None:
    def rename(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tables[0]["name"] = tables[0]["displayName"] = "Zákazníci 📈 客户 مرحبا"
        tables[0]["metadata"] = [*tables[0].get("metadata", []), {"id": "1", "key": "KBC.description",
                                 "value": "Tržby podle zákazníků 🚀 — 売上", "provider": "user",
                                 "timestamp": "2026-01-01T00:00:00+0100"}]
        return tables

    ctx.edit(f"{OTHER}/tables.json", rename)


def _nul_bytes(ctx: Ctx) -> None:
    def poison(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        config = components[0]["configurations"][0]
        config["name"] = "zzqnulprobe \x00name [/] [bold]markup"
        config["description"] = "before\x00after \x07 bell \x1b[31m escape \x1b]0;retitled\x07"
        return components

    ctx.edit(f"{OTHER}/components.json", poison)


@pytest.mark.parametrize(("setup", "query"), [
    (_empty_project, None),
    (_huge_configuration, "zzqhugeprobe"),
    (_unicode_names, "Zákazníci"),
    (_nul_bytes, "zzqnulprobe"),
], ids=["empty-project", "5mb-configuration", "unicode-emoji-names", "nul-bytes"])
def test_odd_but_valid_input_indexes(setup: Callable[[Ctx], None], query: str | None,
                                     services: dict[str, Any], tmp_path: Path) -> None:
    openai: FakeOpenAI = services["openai"]
    snapshot = copy_snapshot(tmp_path / "snap", [PROJECT, OTHER])
    env = clean_env(QDRANT_PATH=str(tmp_path / "q"), OPENAI_API_KEY=openai.api_key, OPENAI_BASE_URL=openai.base_url)
    ctx = Ctx(tmp_path, env, services["api"], openai, snapshot, services["index"])
    setup(ctx)
    result = run(["index", "--snapshot", str(snapshot), "--provider", "openai", "--json"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    stored = read_edge(tmp_path / "q")
    assert stored.count == len(stored.hashes) == summary["extracted"] == summary["upserted"]
    assert summary["per_project"][str(PROJECT)]["extracted"] == DEMO.project(PROJECT).total
    if query is None:
        assert summary["per_project"][OTHER_DIR]["extracted"] == 0
        return
    # The fake OpenAI's vectors are random per text: the lexical (BM25) side is what finds things here.
    found = run(["search", query, "--project", OTHER_DIR, "--json", "--limit", "3", "--mode", "sparse"], env)
    assert found.returncode == 0, found.stderr[-3000:]
    hits = json.loads(found.stdout)
    assert hits, f"nothing found for {query!r}"
    if setup is _unicode_names:
        assert hits[0]["name"] == "Zákazníci 📈 客户 مرحبا"
    if setup is _nul_bytes:
        # The people's view prints no NUL and no escape sequence, and markup in a name stays text.
        shown = run(["search", query, "--project", OTHER_DIR, "--limit", "3", "--mode", "sparse"], env)
        assert shown.returncode == 0, shown.stderr[-3000:]
        assert "\x00" not in shown.stdout and "\x1b" not in shown.stdout
        assert "zzqnulprobe name [/] [bold]markup" in shown.stdout


def test_empty_index_search_is_exit_10(services: dict[str, Any], tmp_path: Path) -> None:
    """An index of nothing but an empty project is empty: search says so (exit 10) instead of 'No results'."""
    openai: FakeOpenAI = services["openai"]
    snapshot = copy_snapshot(tmp_path / "snap", [OTHER])
    ctx = Ctx(tmp_path, {}, services["api"], openai, snapshot, services["index"])
    _empty_project(ctx)
    env = clean_env(QDRANT_PATH=str(tmp_path / "q"), OPENAI_API_KEY=openai.api_key, OPENAI_BASE_URL=openai.base_url)
    indexed = run(["index", "--snapshot", str(snapshot), "--provider", "openai", "--json"], env)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["extracted"] == 0
    found = run(["search", "churn"], env)
    assert found.returncode == 10, found.stderr
    assert [line for line in found.stderr.splitlines() if line.strip()][-1].startswith("error:")

"""Extract stage against the fake Storage API over real HTTP, through the real kbcstorage client."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from keboola_vectorizer.errors import ConfigError, KeboolaApiError, KeboolaAuthError, SnapshotError
from keboola_vectorizer.keboola.client import KeboolaClient
from keboola_vectorizer.keboola.extract import PROJECT_FILES, ExtractResult, extract_snapshot
from keboola_vectorizer.keboola.projects_config import (
    ProjectSource,
    load_projects_config,
    sources_from_env,
)
from tests.conftest import DEMO, DEMO_ORG
from tests.fakes.storage_api import FakeStorageApi, storage_api  # noqa: F401

# Small enough that the whole file runs in seconds; the retry logic is the same at any scale.
FAST: dict[str, float] = {"timeout_s": 0.5, "deadline_s": 5.0, "backoff_s": 0.02, "backoff_max_s": 0.1}
BAD_TOKEN = "9999-000000-thisisnotavalidtokenatall"
EXPECTED = DEMO.extract_counts()  # what the generator wrote, counted as extract counts it
IDS = DEMO.project_ids
FIRST = IDS[0]
PROJECTS = len(IDS)


def all_sources(api: FakeStorageApi) -> list[ProjectSource]:
    return [ProjectSource(url=api.url, token=SecretStr(p["token"])) for p in api.projects()]


def one_source(api: FakeStorageApi, project_id: int = FIRST) -> list[ProjectSource]:
    return [ProjectSource(url=api.url, token=SecretStr(api.token_for(project_id)), label=f"p{project_id}")]


def all_tokens() -> list[str]:
    return [p["token"] for p in json.loads((DEMO_ORG / "projects.json").read_text(encoding="utf-8"))]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def error_text(exc: BaseException) -> str:
    """Everything a user or a log could ever see of an exception, chain included."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(type(exc), exc, exc.__traceback__)])


def assert_nothing_written(parent: Path, out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in parent.iterdir() if p.name.startswith(f".{out.name}")] == []


# --- happy path ----------------------------------------------------------------------------------


def test_full_extraction_matches_the_demo_organisation(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "snapshot"
    calls: list[tuple[str, int, int]] = []
    result = extract_snapshot(all_sources(storage_api), out, progress=lambda *a: calls.append(a), **FAST)

    assert isinstance(result, ExtractResult)
    assert result.counts_by_project() == EXPECTED
    assert result.totals() == {name: sum(c[name] for c in EXPECTED.values()) for name in next(iter(EXPECTED.values()))}
    assert result.totals()["configurations"] > DEMO.by_kind()["configuration"]  # deleted ones are extracted too
    assert all(p.seconds >= 0 for p in result.projects)
    assert [c[1:] for c in calls] == [(i, PROJECTS) for i in range(PROJECTS + 1)]
    summary = result.to_json()
    assert summary["totals"] == result.totals() and summary["snapshot"] == str(out)
    assert summary["projects"][str(FIRST)]["name"] == "Sales CRM"
    json.dumps(summary)  # the CLI prints it as is

    for project in json.loads((DEMO_ORG / "projects.json").read_text(encoding="utf-8")):
        for stem in PROJECT_FILES:
            written = out / str(project["id"]) / f"{stem}.json"
            source = DEMO_ORG / str(project["id"]) / f"{stem}.json"
            assert json.loads(written.read_text(encoding="utf-8")) == json.loads(source.read_text(encoding="utf-8"))
            assert written.read_bytes() == source.read_bytes()  # same formatting: snapshots diff cleanly

    listed = json.loads((out / "projects.json").read_text(encoding="utf-8"))
    assert [(p["id"], p["name"]) for p in listed] == [(r.project_id, r.name) for r in result.projects]
    assert all(p["stack_url"] == storage_api.url and "token" not in p for p in listed)

    # What the real client sent: five calls a project, no retries, and the includes the snapshot needs.
    assert len(storage_api.requests) == PROJECTS * 5
    by_route = {r.path: r for r in storage_api.requests}
    assert by_route["/v2/storage/buckets"].include == ["metadata"]
    assert set(by_route["/v2/storage/tables"].include) == {"columns", "buckets", "metadata", "columnMetadata"}
    assert set(by_route["/v2/storage/branch/default/components"].include) == {"configuration", "rows"}
    assert all(r.token_present for r in storage_api.requests)


def test_modified_root_is_served(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    copy = tmp_path / "org"
    shutil.copytree(DEMO_ORG, copy)
    tables = json.loads((copy / str(FIRST) / "tables.json").read_text(encoding="utf-8"))
    (copy / str(FIRST) / "tables.json").write_text(json.dumps(tables[1:]), encoding="utf-8")
    storage_api.root = copy

    result = extract_snapshot(one_source(storage_api), tmp_path / "snap", **FAST)
    assert result.projects[0].tables == EXPECTED[str(FIRST)]["tables"] - 1
    assert result.projects[0].columns == EXPECTED[str(FIRST)]["columns"] - len(tables[0]["columns"])


def test_existing_snapshot_replaced_on_success(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "snap"
    extract_snapshot(all_sources(storage_api)[:3], out, **FAST)
    extract_snapshot(one_source(storage_api, IDS[4]), out, **FAST)
    assert sorted(p.name for p in out.iterdir()) == [str(IDS[4]), "projects.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


# --- failures that must not retry ----------------------------------------------------------------


def test_invalid_token_fails_and_writes_nothing(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    sources = [*one_source(storage_api), ProjectSource(url=storage_api.url, token=SecretStr(BAD_TOKEN))]
    out = tmp_path / "snap"
    with pytest.raises(KeboolaAuthError) as info:
        extract_snapshot(sources, out, **FAST)

    err = info.value
    assert err.exit_code == 4
    assert err.message == f"Storage API rejected the token for {storage_api.url} (storage.tokenInvalid)"
    assert "KBC_STORAGE_TOKEN" in err.hint
    assert storage_api.count("/tokens/verify") == 2  # one per project: a 401 is never retried
    assert_nothing_written(tmp_path, out)


def test_failed_run_keeps_previous_snapshot(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "snap"
    extract_snapshot(one_source(storage_api), out, **FAST)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    storage_api.add_fault("/components", status=403, body={"error": "Access denied", "code": "accessDenied"})
    with pytest.raises(KeboolaAuthError, match="Access denied"):
        extract_snapshot(all_sources(storage_api), out, **FAST)

    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_404_fails_at_once_with_api_message(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    storage_api.add_fault("/buckets", status=404, body={"error": "Bucket listing not found", "code": "notFound"})
    with pytest.raises(KeboolaApiError) as info:
        extract_snapshot(one_source(storage_api), tmp_path / "snap", **FAST)
    assert "Bucket listing not found" in info.value.message
    assert "HTTP 404" in info.value.message
    assert info.value.exit_code == 5
    assert storage_api.count("/buckets") == 1
    assert_nothing_written(tmp_path, tmp_path / "snap")


def test_unreachable_url(tmp_path: Path) -> None:
    url = closed_port_url()
    sources = [ProjectSource(url=url, token=SecretStr("some-token"))]
    started = time.monotonic()
    with pytest.raises(KeboolaApiError) as info:
        extract_snapshot(sources, tmp_path / "snap", **{**FAST, "deadline_s": 0.5})
    assert time.monotonic() - started < 5
    assert url in info.value.message and "unreachable" in info.value.message
    assert "KBC_STORAGE_API_URL" in info.value.hint
    assert_nothing_written(tmp_path, tmp_path / "snap")


def test_unresolvable_host_fails_at_once() -> None:
    client = KeboolaClient("https://no-such-stack.invalid", "some-token", timeout_s=2, deadline_s=30)
    started = time.monotonic()
    with pytest.raises(KeboolaApiError, match="unreachable"):
        client.verify_token()
    assert time.monotonic() - started < 15  # no retries through a 30 s deadline


# --- transient failures that must retry ----------------------------------------------------------


def test_429_honours_retry_after(
    storage_api: FakeStorageApi, tmp_path: Path, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    storage_api.add_fault("/tables", status=429, retry_after=1)
    caplog.set_level(logging.WARNING, logger="keboola_vectorizer")
    started = time.monotonic()
    result = extract_snapshot(one_source(storage_api), tmp_path / "snap", **FAST)

    assert time.monotonic() - started >= 1.0  # waited as told, not the 0.02 s backoff
    assert result.counts_by_project() == {str(FIRST): EXPECTED[str(FIRST)]}
    assert storage_api.count("/tables") == 2
    assert "HTTP 429" in caplog.text and "Retry-After 1 s" in caplog.text


def test_429_retry_after_beyond_deadline_gives_up(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    storage_api.add_fault("/tables", status=429, retry_after=600)
    started = time.monotonic()
    with pytest.raises(KeboolaApiError, match="Retry-After 600 s"):
        extract_snapshot(one_source(storage_api), tmp_path / "snap", **FAST)
    assert time.monotonic() - started < 3
    assert storage_api.count("/tables") == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_twice_then_success(storage_api: FakeStorageApi, tmp_path: Path, status: int) -> None:  # noqa: F811
    storage_api.add_fault("/tables", status=status, times=2)
    result = extract_snapshot(all_sources(storage_api), tmp_path / "snap", **FAST)
    assert result.counts_by_project() == EXPECTED
    assert storage_api.count("/tables") == PROJECTS + 2


def test_dropped_connection_is_retried(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    storage_api.add_fault("/components", "drop", nth=2)
    result = extract_snapshot(all_sources(storage_api)[:3], tmp_path / "snap", **FAST)
    assert result.counts_by_project() == {str(k): EXPECTED[str(k)] for k in IDS[:3]}
    assert storage_api.count("/components") == 3 + 1
    assert [r.fault for r in storage_api.requests if "/components" in r.path] == [None, "drop", None, None]


def test_slow_response_past_timeout_is_retried(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    storage_api.add_fault("/buckets", "slow", delay_s=3)
    started = time.monotonic()
    result = extract_snapshot(one_source(storage_api), tmp_path / "snap", **{**FAST, "timeout_s": 0.3})
    assert time.monotonic() - started < 3  # did not wait for the slow answer
    assert result.projects[0].buckets == EXPECTED[str(FIRST)]["buckets"]
    assert storage_api.count("/buckets") == 2


def test_deadline_runs_out(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    storage_api.add_fault("/tables", status=503, times=10_000)
    out = tmp_path / "snap"
    started = time.monotonic()
    with pytest.raises(KeboolaApiError) as info:
        extract_snapshot(one_source(storage_api), out, **{**FAST, "deadline_s": 1.0})
    elapsed = time.monotonic() - started

    assert elapsed < 4
    message = info.value.message
    assert "retry deadline 1 s" in message and "HTTP 503" in message and "/v2/storage/tables" in message
    assert storage_api.count("/tables") > 2
    assert_nothing_written(tmp_path, out)


# --- the token never leaks -----------------------------------------------------------------------


def test_token_never_leaks(
    storage_api: FakeStorageApi, tmp_path: Path, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's and requests' own debug lines included
    storage_api.echo_token = True
    storage_api.add_fault("/tables", status=429, retry_after=0)
    storage_api.add_fault("/buckets", status=500, times=2)
    storage_api.add_fault("/dev-branches", "drop")
    storage_api.add_fault("/components", "slow", delay_s=2)
    out = tmp_path / "snap"
    extract_snapshot(all_sources(storage_api), out, **FAST)

    errors: list[BaseException] = []
    for sources, options in [
        ([ProjectSource(url=storage_api.url, token=SecretStr(BAD_TOKEN))], FAST),
        (one_source(storage_api), {**FAST, "deadline_s": 0.3}),
        ([ProjectSource(url=closed_port_url(), token=SecretStr(BAD_TOKEN))], {**FAST, "deadline_s": 0.3}),
    ]:
        if len(errors) == 1:
            storage_api.add_fault("/tables", status=502, times=10_000)
        with pytest.raises((KeboolaAuthError, KeboolaApiError)) as info:
            extract_snapshot(sources, tmp_path / "failed", **options)  # type: ignore[arg-type]
        errors.append(info.value)

    assert len(storage_api.requests) > PROJECTS * 5  # the faults did fire
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for token in [*all_tokens(), BAD_TOKEN]:
        assert token not in caplog.text
        assert token.encode() not in written
        for err in errors:
            assert token not in error_text(err)
            assert err.__context__ is None and err.__cause__ is None
    assert json.loads((out / str(FIRST) / "tokens-verify.json").read_text(encoding="utf-8"))["token"] is None


def test_source_repr_hides_token(storage_api: FakeStorageApi) -> None:  # noqa: F811
    source = one_source(storage_api)[0]
    client = KeboolaClient(source.url, source.token)
    assert source.token.get_secret_value() not in repr(source) + repr(client) + str(source)


# --- guards --------------------------------------------------------------------------------------


def test_same_project_twice_is_a_config_error(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    again = ProjectSource(url=storage_api.url, token=SecretStr(storage_api.token_for(FIRST)))
    sources = [*one_source(storage_api), again]
    with pytest.raises(ConfigError, match=f"project {FIRST}"):
        extract_snapshot(sources, tmp_path / "snap", **FAST)
    assert_nothing_written(tmp_path, tmp_path / "snap")


def test_refuses_to_replace_unrelated_directory(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "keep.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(SnapshotError):
        extract_snapshot(one_source(storage_api), tmp_path, **FAST)
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "precious"
    assert storage_api.count() == 0


# --- the fake itself -----------------------------------------------------------------------------


def test_fake_error_shapes(storage_api: FakeStorageApi) -> None:  # noqa: F811
    missing = requests.get(f"{storage_api.url}/v2/storage/tokens/verify", timeout=5)
    unknown = requests.get(
        f"{storage_api.url}/v2/storage/nope", headers={"X-StorageApi-Token": BAD_TOKEN}, timeout=5
    )
    route = requests.get(
        f"{storage_api.url}/v2/storage/nope", headers={"X-StorageApi-Token": storage_api.token_for(FIRST)}, timeout=5
    )
    index = requests.get(f"{storage_api.url}/v2/storage/", timeout=5)
    for response, status, code in [(missing, 401, "storage.tokenInvalid"), (unknown, 401, "storage.tokenInvalid"),
                                   (route, 404, "notFound")]:
        body: dict[str, Any] = response.json()
        assert response.status_code == status
        assert body["code"] == code and body["status"] == "error" and body["error"] and body["exceptionId"]
    assert index.status_code == 200 and index.json()["api"] == "storage"
    assert [r.token_present for r in storage_api.requests] == [False, True, True, False]
    assert [r.project_id for r in storage_api.requests] == [None, None, FIRST, None]


def test_fake_serves_default_branch_by_id(storage_api: FakeStorageApi) -> None:  # noqa: F811
    headers = {"X-StorageApi-Token": storage_api.token_for(FIRST)}
    branches = json.loads((DEMO_ORG / str(FIRST) / "dev-branches.json").read_text(encoding="utf-8"))
    default = next(b["id"] for b in branches if b["isDefault"])
    dev = next(b["id"] for b in branches if not b["isDefault"])
    components = json.loads((DEMO_ORG / str(FIRST) / "components.json").read_text(encoding="utf-8"))
    by_id = requests.get(f"{storage_api.url}/v2/storage/branch/{default}/components", headers=headers, timeout=5)
    other = requests.get(f"{storage_api.url}/v2/storage/branch/{dev}/components", headers=headers, timeout=5)
    assert by_id.status_code == 200 and len(by_id.json()) == len(components) > 5
    assert other.status_code == 404


# --- projects config -----------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_projects_config_yaml(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    write(secrets / "kbc-token-marketing", "token-from-file\n")
    config = write(
        tmp_path / "projects.yaml",
        """
projects:
  - url: https://connection.keboola.com/
    token_secret: kbc-token-marketing
    name: marketing
  - url: https://connection.eu-central-1.keboola.com
    token_env: KBC_TOKEN_SALES
  - url: https://connection.north-europe.azure.keboola.com
    token_secret: kbc-token-ops
""",
    )
    env = {"KBC_TOKEN_MARKETING": "token-from-env", "KBC_TOKEN_SALES": "sales-token", "KBC_TOKEN_OPS": "ops-token"}
    sources = load_projects_config(config, secrets_dir=secrets, environ=env)

    assert [(s.url, s.token.get_secret_value(), s.label) for s in sources] == [
        ("https://connection.keboola.com", "token-from-file", "marketing"),  # the file wins over the env var
        ("https://connection.eu-central-1.keboola.com", "sales-token", None),
        ("https://connection.north-europe.azure.keboola.com", "ops-token", None),  # env fallback
    ]
    # Without a secrets dir the env var is the only place to look.
    assert load_projects_config(config, environ=env)[0].token.get_secret_value() == "token-from-env"
    # A mounted secret also wins for token_env, under the variable's name or in kebab-case.
    write(secrets / "kbc-token-sales", "sales-from-file")
    assert load_projects_config(config, secrets, environ=env)[1].token.get_secret_value() == "sales-from-file"


def test_projects_config_json_drives_extraction(storage_api: FakeStorageApi, tmp_path: Path) -> None:  # noqa: F811
    config = write(
        tmp_path / "projects.json",
        json.dumps({"projects": [
            {"url": storage_api.url, "token_env": "T1", "name": "one"},
            {"url": storage_api.url, "token_env": "T2"},
        ]}),
    )
    env = {"T1": storage_api.token_for(IDS[3]), "T2": storage_api.token_for(IDS[6])}
    sources = load_projects_config(config, environ=env)
    result = extract_snapshot(sources, tmp_path / "snap", **FAST)
    assert result.counts_by_project() == {str(IDS[3]): EXPECTED[str(IDS[3])], str(IDS[6]): EXPECTED[str(IDS[6])]}


ENTRY = "  - url: https://connection.keboola.com\n    token_env: T\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("projects: [\n  - url: x\n", "not valid YAML"),
        ("- url: https://connection.keboola.com\n", "expected a mapping"),
        ("projects: []\n", "non-empty list"),
        ("projects:\n" + ENTRY + "extra: 1\n", "unknown top-level key(s) extra"),
        ("projects:\n" + ENTRY + "    colour: red\n", "projects[0]: unknown key(s) colour"),
        ("projects:\n" + ENTRY + "  - url: https://connection.keboola.com\n    token: abc\n",
         "projects[1]: inline tokens are not allowed"),
        ("projects:\n  - url: http://connection.keboola.com\n    token_env: T\n", "plain http"),
        ("projects:\n  - url: ftp://connection.keboola.com\n    token_env: T\n", "not an https URL"),
        ("projects:\n  - url: https://connection.keboola.com/v2/storage\n    token_env: T\n", "bare stack URL"),
        ("projects:\n  - token_env: T\n", "url is missing"),
        ("projects:\n  - url: https://connection.keboola.com\n    token_env: T\n    token_secret: s\n",
         "exactly one of token_secret or token_env"),
        ("projects:\n  - url: https://connection.keboola.com\n", "exactly one of token_secret or token_env"),
        ("projects:\n  - url: https://connection.keboola.com\n    token_env: MISSING\n", "MISSING"),
        ("projects:\n" + ENTRY + "  - url: https://connection.keboola.com\n    token_secret: nope\n",
         "projects[1]: token_secret 'nope' not found"),
        ("projects:\n  - url: https://connection.keboola.com\n    token_secret: ../etc/passwd\n", "plain name"),
        ("projects:\n" + ENTRY + ENTRY, "projects[1] repeats projects[0]"),
    ],
)
def test_projects_config_malformed(tmp_path: Path, text: str, expected: str) -> None:
    config = write(tmp_path / "projects.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_projects_config(config, secrets_dir=tmp_path, environ={"T": "tok"})
    assert expected in info.value.message
    assert str(config) in info.value.message
    assert "\n" not in info.value.one_line()


def test_projects_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_projects_config(tmp_path / "nope.yaml")


def test_sources_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBC_STORAGE_API_URL", "https://connection.keboola.com/")
    monkeypatch.setenv("KBC_STORAGE_TOKEN", "env-token")
    [source] = sources_from_env()
    assert (source.url, source.token.get_secret_value(), source.label) == (
        "https://connection.keboola.com", "env-token", None,
    )
    assert sources_from_env("https://connection.keboola.com", SecretStr("x"))[0].token.get_secret_value() == "x"

    monkeypatch.delenv("KBC_STORAGE_TOKEN")
    with pytest.raises(KeboolaAuthError, match="KBC_STORAGE_TOKEN is not set"):
        sources_from_env()
    monkeypatch.delenv("KBC_STORAGE_API_URL")
    with pytest.raises(ConfigError, match="KBC_STORAGE_API_URL is not set"):
        sources_from_env(token="t")
    with pytest.raises(ConfigError, match="plain http"):
        sources_from_env("http://connection.keboola.com", "t")

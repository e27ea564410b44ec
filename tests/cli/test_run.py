"""Exit codes and one-line errors in process, through `cli.run(argv, env)` (httpie's pattern): the
same boundary `main()` uses, without a subprocess per case."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from keboola_vectorizer.cli import run
from keboola_vectorizer.errors import EXIT_CODE_MEANINGS, ExitCode, exit_code_table

README = Path(__file__).resolve().parents[2] / "README.md"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any of the tool's settings, an empty store directory, plus `extra`."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("KBC_", "QDRANT_", "OPENAI_", "DD_", "EMBEDDING_", "KV_", "LOG_"))}
    return {**base, "QDRANT_PATH": str(tmp_path / "qdrant"), "KV_SECRETS_DIR": str(tmp_path / "no-secrets"),
            **extra}


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    return errors[0]


def test_readme_exit_code_table_is_the_enum() -> None:
    section = README.read_text().split("## Exit codes", 1)[1].splitlines()
    start = next(i for i, line in enumerate(section) if line.startswith("|"))
    end = next((i for i in range(start, len(section)) if not section[i].startswith("|")), len(section))
    assert "\n".join(section[start:end]) == exit_code_table()
    assert set(EXIT_CODE_MEANINGS) == set(ExitCode)


@pytest.mark.parametrize(("argv", "code", "needle"), [
    (["search", "   "], ExitCode.CONFIG, "query is empty"),
    (["search", "orders", "--stage", "middle"], ExitCode.CONFIG, "--stage in"),
    (["search", "orders"], ExitCode.EMPTY_INDEX, "index"),
    (["index", "--snapshot", "/nonexistent/snapshot"], ExitCode.SNAPSHOT, "snapshot"),
    (["index"], ExitCode.CONFIG, "KBC_STORAGE_API_URL"),
    (["search", "orders", "--limit", "0"], ExitCode.USAGE, "--limit"),
    (["no-such-command"], ExitCode.USAGE, "no-such-command"),
], ids=["empty-query", "bad-stage", "empty-index", "missing-snapshot", "no-keboola", "bad-limit", "unknown"])
def test_failures_are_one_line_and_a_documented_code(argv: list[str], code: ExitCode, needle: str,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv, clean_env(tmp_path)) == code
    assert needle in one_error_line(capsys)


def test_settings_come_from_the_env_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = clean_env(tmp_path, KV_LOCK_TIMEOUT="soon")
    assert run(["snapshot", "create"], env) == ExitCode.CONFIG
    assert "KV_LOCK_TIMEOUT" in one_error_line(capsys)
    assert os.environ.get("KV_LOCK_TIMEOUT") != "soon"  # the process environment is restored
    bad_url = clean_env(tmp_path, QDRANT_URL="ftp://nowhere")
    assert run(["status", "--json"], bad_url) == ExitCode.CONFIG
    assert "QDRANT_URL" in one_error_line(capsys)


def test_status_of_a_missing_index_succeeds_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status", "--json"], clean_env(tmp_path)) == ExitCode.OK
    data = json.loads(capsys.readouterr().out)
    assert data["exists"] is False and data["points"] == 0 and data["collection"] == "keboola-metadata"


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["--help"], clean_env(tmp_path)) == ExitCode.OK
    out = capsys.readouterr().out
    for command in ("extract", "index", "embed", "upsert", "documents", "search", "similar", "lineage",
                    "status", "eval", "doctor", "snapshot", "serve", "mcp"):
        assert re.search(rf"\b{command}\b", out), command

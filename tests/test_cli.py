"""The public CLI as a user meets it: real processes, real exit codes, one-line errors, --json shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO, SECOND, SMALL, copy_snapshot

PAIR = {str(SMALL): DEMO.project(SMALL).total, str(SECOND): DEMO.project(SECOND).total}
PAIR_DOCS = sum(PAIR.values())

CLI = [sys.executable, "-m", "keboola_vectorizer.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KBC_", "QDRANT_", "OPENAI_", "DD_"))}
    base.update(env or {})
    return subprocess.run(CLI + list(args), capture_output=True, text=True, env=base, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    # Retry warnings may precede it, but the failure itself is exactly one line, and the last.
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(" WARNING " in line for line in lines[:-1]), result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The two smallest demo projects indexed through the CLI; returns the environment that points at them."""
    root = tmp_path_factory.mktemp("cli")
    snapshot = copy_snapshot(root / "snapshot", [SMALL, SECOND])
    env = {"QDRANT_PATH": str(root / "qdrant"), "SNAPSHOT": str(snapshot)}
    first = run_cli("index", "--snapshot", str(snapshot), "--json", env=env)
    assert first.returncode == 0, first.stderr
    env["FIRST_RUN"] = first.stdout
    return env


def test_index_json_summary_and_incremental_rerun(small_index: dict[str, str]) -> None:
    first = json.loads(small_index["FIRST_RUN"])
    for key in ("extracted", "embedded", "skipped", "upserted", "deleted", "seconds"):
        assert key in first
    assert (first["extracted"], first["embedded"], first["upserted"]) == (PAIR_DOCS,) * 3
    assert first["seconds"]["embed"] > 0
    again = run_cli("index", "--snapshot", small_index["SNAPSHOT"], "--json", env=small_index)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["embedded"], summary["upserted"], summary["skipped"], summary["deleted"]) == (0, 0, PAIR_DOCS, 0)
    assert (summary["projects"], summary["projects_unchanged"]) == (2, 2)  # neither project read again
    text = run_cli("index", "--snapshot", small_index["SNAPSHOT"], env=small_index)
    assert "of which 2 unchanged since the last run" in text.stdout, text.stdout


def test_search_json_is_ranked_results_with_links(small_index: dict[str, str]) -> None:
    result = run_cli("search", "euro exchange rates by currency", "--json", "--limit", "5", env=small_index)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert 0 < len(hits) <= 5
    for hit in hits:
        assert {"id", "kind", "name", "project_id", "score", "url", "snippet"} <= set(hit)
        assert hit["url"].startswith(f"https://connection.keboola.com/admin/projects/{hit['project_id']}/")
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert any(h["id"].startswith(f"{SMALL}/") for h in hits[:3])


def test_a_search_process_leaves_with_all_its_output_and_exit_hooks(small_index: dict[str, str],
                                                                     tmp_path: Path) -> None:
    """A read-only command ends without the interpreter's teardown (cli/runner.py): its output is still
    whole, its log lines written, its exit hooks run, and a reader that goes away breaks nothing."""
    hook = tmp_path / "hook-ran"
    probe = ("import atexit, pathlib, sys; from keboola_vectorizer.cli.runner import main; "
             f"atexit.register(lambda: pathlib.Path({str(hook)!r}).write_text('yes')); "
             "sys.argv = ['keboola-vectorizer', 'search', 'euro exchange rates', '--json', '--limit', '50']; main()")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KBC_", "QDRANT_", "DD_"))}, **small_index}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) > 10  # every line of a long answer arrived
    assert "search by token" in done.stderr  # the audit line was flushed
    assert hook.read_text() == "yes"
    piped = subprocess.run(" ".join([*CLI, "search", "'euro exchange rates'", "--json", "--limit", "50", "|", "head",
                                     "-c", "20"]), shell=True, capture_output=True, text=True, env=env, timeout=300)
    assert len(piped.stdout) == 20 and "Traceback" not in piped.stderr, piped.stderr
    missing = run_cli("search", "churn", env={"QDRANT_PATH": str(tmp_path / "none")})
    assert missing.returncode == 10  # a failing read keeps its exit code


def test_a_local_json_search_draws_nothing_with_rich(small_index: dict[str, str]) -> None:
    """JSON output never imports rich (cli/render.py): a cold `search --json` is waited on."""
    probe = ("import atexit, sys; "
             "atexit.register(lambda: print('RICH', 'rich' in sys.modules, file=sys.stderr)); "
             "sys.argv = ['keboola-vectorizer', 'search', 'euro exchange rates', '--json']; "
             "from keboola_vectorizer.cli.entry import main; main()")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KBC_", "QDRANT_", "DD_", "KV_"))},
           **small_index}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
    assert "RICH False" in done.stderr, done.stderr
    text = run_cli("search", "euro exchange rates", "--limit", "2", env=small_index)
    assert text.returncode == 0 and "Results for" in text.stdout and "2." in text.stdout, text.stderr


def test_cold_search_parts_times_every_phase(small_index: dict[str, str]) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "cold_search_parts.py"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KBC_", "QDRANT_", "DD_", "KV_"))},
           **small_index}
    done = subprocess.run([sys.executable, str(script), "--runs", "1"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    for phase in ("import the CLI", "shard loaded", "query vector ready", "first search", "**to the first answer**"):
        median = rows[phase].split("|")[2].strip()
        assert median.isdigit() and int(median) >= 0, rows[phase]
    missing = subprocess.run([sys.executable, str(script), "--runs", "1"], capture_output=True, text=True,
                             env={**env, "QDRANT_PATH": "/nonexistent/kv"}, timeout=300)
    assert missing.returncode != 0 and "error:" in missing.stderr


def test_search_filters_restrict_results(small_index: dict[str, str]) -> None:
    result = run_cli("search", "newsletter data", "--json", "--project", str(SECOND), "--kind", "table",
                     env=small_index)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits and all(h["project_id"] == SECOND and h["kind"] == "table" for h in hits)


def test_search_prints_a_table_for_people(small_index: dict[str, str]) -> None:
    result = run_cli("search", "mailchimp members", "--limit", "3", env=small_index)
    assert result.returncode == 0, result.stderr
    assert "mailchimp" in result.stdout.lower()
    assert "https://connection.keboola.com/admin/projects/" in result.stdout.replace("\n", "").replace("│", "")


def test_status_json(small_index: dict[str, str]) -> None:
    result = run_cli("status", "--json", env=small_index)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["model"] == "local/all-MiniLM-L6-v2@384"
    assert status["dimension"] == 384
    assert status["points"] == PAIR_DOCS
    assert status["by_project"] == PAIR
    assert sum(status["by_kind"].values()) == PAIR_DOCS
    assert status["last_run"]["extracted"] == PAIR_DOCS


def test_documents_prints_json_lines(small_index: dict[str, str]) -> None:
    result = run_cli("documents", "--snapshot", small_index["SNAPSHOT"])
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == PAIR_DOCS
    assert {"id", "kind", "text", "payload", "content_hash"} <= set(rows[0])
    assert len({r["id"] for r in rows}) == PAIR_DOCS


def test_missing_keboola_settings_is_one_line(tmp_path: Path) -> None:
    result = run_cli("index", env={"QDRANT_PATH": str(tmp_path / "q")})
    assert_one_line_error(result, 3, "KBC_STORAGE_API_URL", "--snapshot")
    assert not (tmp_path / "q").exists()


def test_snapshot_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("index", "--snapshot", str(tmp_path / "empty"), env={"QDRANT_PATH": str(tmp_path / "q")})
    assert_one_line_error(result, 7, "projects.json")
    assert not (tmp_path / "q").exists()
    missing = run_cli("index", "--snapshot", str(tmp_path / "nope"), env={"QDRANT_PATH": str(tmp_path / "q")})
    assert_one_line_error(missing, 7, "does not exist")


def test_snapshot_with_corrupt_file(tmp_path: Path) -> None:
    snapshot = copy_snapshot(tmp_path / "snap", [SMALL])
    (snapshot / str(SMALL) / "tables.json").write_text("{not json")
    result = run_cli("index", "--snapshot", str(snapshot), env={"QDRANT_PATH": str(tmp_path / "q")})
    assert_one_line_error(result, 7, "tables.json", "not valid JSON")


def test_a_project_corrupted_since_the_last_run_fails_the_run_before_anything_is_written(tmp_path: Path) -> None:
    """The unchanged project is not read; the changed one is checked before any point is written."""
    snapshot = copy_snapshot(tmp_path / "snap", [SMALL, SECOND])
    env = {"QDRANT_PATH": str(tmp_path / "q")}
    assert run_cli("index", "--snapshot", str(snapshot), env=env).returncode == 0
    before = json.loads(run_cli("status", "--json", env=env).stdout)
    (snapshot / str(SECOND) / "tables.json").write_text("{not json")
    result = run_cli("index", "--snapshot", str(snapshot), env=env)
    assert_one_line_error(result, 7, f"{SECOND}", "tables.json", "not valid JSON")
    after = json.loads(run_cli("status", "--json", env=env).stdout)
    assert after["by_project"] == before["by_project"]
    assert after["last_run"] == before["last_run"]


def test_search_on_missing_index(tmp_path: Path) -> None:
    result = run_cli("search", "churn", env={"QDRANT_PATH": str(tmp_path / "none")})
    assert_one_line_error(result, 10, "keboola-vectorizer index")


def test_empty_query_and_bad_option_values(tmp_path: Path) -> None:
    env = {"QDRANT_PATH": str(tmp_path / "none")}
    assert_one_line_error(run_cli("search", "   ", env=env), 3, "empty")
    bad_kind = run_cli("search", "churn", "--kind", "spreadsheet", env=env)
    assert bad_kind.returncode == 2
    assert "spreadsheet" in bad_kind.stderr

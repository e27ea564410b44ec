"""Which command lines the thin `search` (cli/thin_search.py) answers, and which it leaves to the full
CLI: everything it takes must mean what the full CLI's options mean; the rest must fall through."""

from __future__ import annotations

from pathlib import Path

import pytest

from keboola_vectorizer.cli.thin_search import ThinSearch, understood

SERVICE = {"KV_SERVICE_URL": "http://127.0.0.1:8765"}


def test_a_search_through_a_service_is_understood_with_every_filter() -> None:
    search = understood(["search", "monthly churn", "--project", "7", "--project", "8", "--kind", "table",
                         "--bucket", "out.c-crm", "--component", "keboola.ex-db-snowflake", "--stage", "out",
                         "--mode=sparse", "-n", "4", "--explain", "--json"], SERVICE)
    assert search == ThinSearch("http://127.0.0.1:8765", None, 30.0, "monthly churn", [7, 8], ["table"],
                                ["out.c-crm"], ["keboola.ex-db-snowflake"], ["out"], "sparse", 4, True, True)


def test_settings_are_read_as_the_full_cli_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    search = understood(["search", "orders"], {"kv_service_url": "http://svc:1", "KV_SERVICE_TIMEOUT": "2.5",
                                               "KV_API_KEY": "from-the-variable"})
    assert search is not None
    assert (search.service_url, search.timeout, search.api_key, search.as_json) == ("http://svc:1", 2.5,
                                                                                    "from-the-variable", False)
    (tmp_path / "kv-api-key").write_text("from-the-file\n")
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    search = understood(["search", "orders"], {**SERVICE, "KV_API_KEY": "from-the-variable"})
    assert search is not None and search.api_key == "from-the-file"  # a mounted secret wins, as in config.py


@pytest.mark.parametrize("argv", [
    ["status"],
    ["--verbose", "search", "orders"],
    ["search"],
    ["search", "   "],
    ["search", "orders", "--help"],
    ["search", "orders", "--boost"],
    ["search", "orders", "--branch", "dev"],
    ["search", "orders", "--kind", "tables"],
    ["search", "orders", "--stage", "mid"],
    ["search", "orders", "--mode", "fuzzy"],
    ["search", "orders", "--limit", "0"],
    ["search", "orders", "--limit", "1001"],
    ["search", "orders", "--project", "seven"],
    ["search", "orders", "--proj", "7"],  # click takes no abbreviations
    ["search", "orders", "extra words"],
    ["search", "orders", "--unknown"],
])
def test_anything_else_is_left_to_the_full_cli(argv: list[str]) -> None:
    assert understood(argv, SERVICE) is None


@pytest.mark.parametrize("environ", [{}, {"KV_SERVICE_URL": ""}, {**SERVICE, "KV_SERVICE_TIMEOUT": "0"},
                                     {**SERVICE, "KV_SERVICE_TIMEOUT": "soon"}])
def test_without_a_usable_service_setting_the_full_cli_answers(environ: dict[str, str]) -> None:
    assert understood(["search", "orders", "--json"], environ) is None

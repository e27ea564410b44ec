"""`search` through a running service (`KV_SERVICE_URL`) on the standard library alone.

The service holds the model and the index, so what a person waits for is this process: Typer, rich
and pydantic-settings alone take half a second to import, ten times the request. A command line this
module understands completely is answered here, with the full CLI's output, messages and exit codes
(the same client, result type, JSON writer and error line); anything else (`--help`, an option it does
not know, a value the full CLI would reject, `--boost`/`--branch`, which the service does not offer)
is left to the full CLI, which says what is wrong. Text output and error lines load rich, as the full
CLI's would; `--json` never does.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keboola_vectorizer.ids import KINDS, STAGES
from keboola_vectorizer.search_result import MAX_RESULTS

MODES = ("hybrid", "dense", "sparse")  # as search.SEARCH_MODES, without loading the ranking


class _NotUnderstood(Exception):
    """The command line is one for the full CLI."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotUnderstood(message)


def _parser() -> _Parser:
    parser = _Parser(prog="keboola-vectorizer search", add_help=False, allow_abbrev=False)
    parser.add_argument("query")
    parser.add_argument("--project", action="append", type=int, default=[])
    parser.add_argument("--kind", action="append", choices=KINDS, default=[])
    parser.add_argument("--bucket", action="append", default=[])
    parser.add_argument("--component", action="append", default=[])
    parser.add_argument("--stage", action="append", choices=STAGES, default=[])
    parser.add_argument("--mode", choices=MODES, default="hybrid")
    parser.add_argument("--limit", "-n", type=int, default=10)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--json", action="store_true", dest="as_json")
    return parser


@dataclass(frozen=True)
class ThinSearch:
    """One search the thin path answers: the parsed command line and the service settings."""

    service_url: str
    api_key: str | None
    timeout: float
    query: str
    projects: list[int]
    kinds: list[str]
    buckets: list[str]
    components: list[str]
    stages: list[str]
    mode: str
    limit: int
    explain: bool
    as_json: bool


def understood(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> ThinSearch | None:
    """The search this command line asks of a running service, or None: the full CLI's to answer
    (`environ`: the variables to read instead of the process's)."""
    if not argv or argv[0] != "search" or "--help" in argv:
        return None
    from keboola_vectorizer.light_settings import DEFAULT_SERVICE_TIMEOUT_S, secret_in_force, setting

    service_url = setting("kv_service_url", environ)
    if service_url is None:
        return None
    try:
        timeout = float(setting("kv_service_timeout", environ) or DEFAULT_SERVICE_TIMEOUT_S)
        parsed = _parser().parse_args(list(argv[1:]))
    except (_NotUnderstood, ValueError):
        return None
    if not parsed.query.strip() or not 1 <= parsed.limit <= MAX_RESULTS or not timeout > 0:
        return None
    return ThinSearch(service_url, secret_in_force("kv_api_key", environ), timeout, parsed.query, parsed.project,
                      parsed.kind, parsed.bucket, parsed.component, parsed.stage, parsed.mode, parsed.limit,
                      parsed.explain, parsed.as_json)


def answer(search: ThinSearch) -> int:
    """Ask the service, print what the full CLI would print; the exit code."""
    from keboola_vectorizer.errors import ExitCode, VectorizerError
    from keboola_vectorizer.light_settings import SECRET_FIELDS, secret_in_force, setting
    from keboola_vectorizer.redact import register_secrets
    from keboola_vectorizer.service.client import search_via_service

    register_secrets(secret_in_force(field) for field in SECRET_FIELDS)
    try:
        found = search_via_service(search.service_url, search.api_key, search.query, mode=search.mode,
                                   limit=search.limit, timeout=search.timeout, explain=search.explain,
                                   projects=search.projects, kinds=search.kinds, buckets=search.buckets,
                                   components=search.components, stages=search.stages)
        if search.as_json:
            from keboola_vectorizer.cli.json_output import print_json

            print_json([result.to_json() for result in found])
        else:
            from keboola_vectorizer.cli import render

            render.results(found, False, render.results_title(search.query))
    except VectorizerError as error:
        from keboola_vectorizer.cli import render

        render.error_line(error.one_line())
        return int(error.exit_code)
    except Exception as error:  # the last resort, as the full CLI's (cli/runner.py)
        if setting("kv_debug"):
            raise
        from keboola_vectorizer.cli import render

        render.unexpected_error(error)
        return int(ExitCode.UNEXPECTED)
    return int(ExitCode.OK)

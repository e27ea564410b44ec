"""The `keboola-vectorizer` command line, one module per job:

    app.py          the Typer app: global options, logging, and every command registered
    runner.py       run(argv, env) -> exit code, and main(): the only place failures become exit codes
    entry.py        the console script: thin_search.py for a search through a running service, else runner.py
    thin_search.py  that search on the standard library alone (no Typer, rich or pydantic)
    json_output.py  the --json writer both share
    leaving.py      how a process that only read ends (both share it)
    context.py      per-invocation state: settings, `open_store()`, the index lock, embedders
    options.py      every option shared by several commands, defined once
    render.py       every rich table, tree and --json output
    commands/       indexing (extract, index, embed, upsert, documents), querying (search, similar,
                    lineage, eval), operations (status, doctor, snapshot)

Commands parse options, call one function of the package and render what it returns. The console
script is entry.py: a search through a running service takes thin_search.py, on the standard library
alone, so this package loads the Typer app (app.py) only when `main` or `run` is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["main", "run"]


def __getattr__(name: str) -> Any:
    if name in ("main", "run"):
        return getattr(importlib.import_module("keboola_vectorizer.cli.runner"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

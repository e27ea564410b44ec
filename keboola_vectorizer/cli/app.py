"""The Typer app: global options (log format, verbosity), logging and secret scrubbing set up from
the settings, and every command registered (a new command: its module, and one line here)."""

from __future__ import annotations

from typing import Annotated

import typer

from keboola_vectorizer.audit import observed_run
from keboola_vectorizer.cli.commands import indexing, operations, querying
from keboola_vectorizer.cli.context import invocation
from keboola_vectorizer.cli.options import LogFormat
from keboola_vectorizer.logging_setup import configure_logging, register_secrets
from keboola_vectorizer.mcp_server.command import mcp
from keboola_vectorizer.service.command import serve
from keboola_vectorizer.watch.command import watch

app = typer.Typer(
    name="keboola-vectorizer",
    help="Index Keboola project metadata into Qdrant and search it by meaning.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which may hold tokens: never show them.
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    log_format: Annotated[LogFormat | None, typer.Option(help="Log lines as text or JSON (env LOG_FORMAT).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    settings = invocation(ctx).settings
    register_secrets(settings.secret_values())
    configure_logging(log_format.value if log_format else settings.log_format,
                      "DEBUG" if verbose else settings.log_level)


for command in (indexing.extract, indexing.index, indexing.embed, indexing.upsert, indexing.documents,
                querying.search, querying.similar, querying.lineage):
    app.command()(command)
app.command("status")(operations.status)
app.command("eval")(querying.eval_command)
app.command("doctor")(operations.doctor)
app.add_typer(operations.snapshot_app, name="snapshot")
app.command("serve")(serve)
app.command("mcp")(mcp)
app.command("watch")(observed_run("watch")(watch))

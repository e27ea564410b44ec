"""`run(argv, env) -> exit code`: the one boundary where failures become one line on stderr and an
`ExitCode` (README's table is written from the enum); `main()` is the console script."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import click
import typer

from keboola_vectorizer.cli import render
from keboola_vectorizer.cli.app import app
from keboola_vectorizer.cli.context import Invocation
from keboola_vectorizer.cli.leaving import leave_after_reading
from keboola_vectorizer.config import debug_tracebacks, scoped_environment
from keboola_vectorizer.errors import ExitCode, VectorizerError
from keboola_vectorizer.redact import scrub


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Typer vendors its own click (typer._click) next to the real one: usage errors come from either."""
    found: list[type[Exception]] = [click.exceptions.UsageError]
    try:
        from typer._click.exceptions import UsageError as VendoredUsageError
    except ImportError:
        return tuple(found)
    return (*found, VendoredUsageError)


_USAGE_ERRORS = _usage_error_types()


def run(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, *,
        as_process: bool = False, invocation: Invocation | None = None) -> int:
    """Run one command line and return its exit code; `env`, when given, is the whole environment it
    sees. Foreseen failures are one line on stderr, never an exception."""
    with scoped_environment(env):
        return _run(list(sys.argv[1:] if argv is None else argv),
                    invocation or Invocation(as_process=as_process))


def _run(argv: list[str], invocation: Invocation) -> int:
    try:
        code = app(args=argv, prog_name="keboola-vectorizer", obj=invocation, standalone_mode=False)
    except VectorizerError as error:
        render.error_line(error.one_line())
        return int(error.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        render.stderr.print("aborted")
        return ExitCode.INTERRUPTED
    except _USAGE_ERRORS as error:
        # One line like every other failure: what was wrong, and where the options are listed.
        where = f"{error.ctx.command_path} --help" if error.ctx is not None else "--help"
        render.stderr.print(f"error: {scrub(' '.join(error.format_message().split()))} — see `{where}`",
                            highlight=False, soft_wrap=True, markup=False)
        return int(error.exit_code)
    except (typer.exceptions.TyperException, click.exceptions.ClickException) as error:
        # Typer vendors click: usage errors come from either, and both know how to show themselves.
        show = getattr(error, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    except KeyboardInterrupt:
        render.stderr.print("interrupted — rerun the same command to resume; finished work is kept")
        return ExitCode.INTERRUPTED
    except Exception as error:  # the last resort: one line, never a traceback with secrets
        if debug_tracebacks():
            raise
        render.unexpected_error(error)
        return ExitCode.UNEXPECTED
    return code if isinstance(code, int) else ExitCode.OK


def main() -> None:
    """The console script: the command is the last thing this process does."""
    invocation = Invocation(as_process=True)
    code = run(sys.argv[1:], invocation=invocation)
    if invocation.opened_to_read and not invocation.opened_to_write:
        leave_after_reading(code)
    sys.exit(code)

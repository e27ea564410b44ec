"""The console script and `python -m keboola_vectorizer.cli`: a `search` through a running service is
answered on the standard library (cli/thin_search.py); every other command line loads the full CLI."""

from __future__ import annotations

import sys


def main() -> None:
    from keboola_vectorizer.cli.thin_search import answer, understood

    search = understood(sys.argv[1:])
    if search is None:
        from keboola_vectorizer.cli.runner import main as full_cli

        full_cli()
        return
    from keboola_vectorizer.cli.leaving import leave_after_reading

    code = answer(search)
    leave_after_reading(code)
    sys.exit(code)

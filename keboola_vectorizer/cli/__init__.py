"""The `keboola-vectorizer` command line, one module per job:

    app.py          the Typer app: global options, logging, and every command registered
    main.py         run(argv, env) -> exit code, and main(): the only place failures become exit codes
    context.py      per-invocation state: settings, `open_store()`, the index lock, embedders
    options.py      every option shared by several commands, defined once
    render.py       every rich table, tree and --json output
    commands/       indexing (extract, index, embed, upsert, documents), querying (search, similar,
                    lineage, eval), operations (status, doctor, snapshot)

Commands parse options, call one function of the package and render what it returns.
"""

from keboola_vectorizer.cli.app import app
from keboola_vectorizer.cli.main import main, run

__all__ = ["app", "main", "run"]

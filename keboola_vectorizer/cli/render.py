"""Every output of the CLI: JSON on stdout (scrubbed of secrets), rich tables, result blocks, the
lineage tree and progress bars on stderr. Text from the index or the user is printed safe (no
terminal control characters, no rich markup).

rich is imported where text is drawn, never for JSON: a cold `search --json` is a command people and
agents wait on, and rich's console, tables and progress bars take a tenth of a second to import."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from keboola_vectorizer.cli.json_output import print_json as print_json  # re-exported: every output is here
from keboola_vectorizer.redact import scrub

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def console(to_stderr: bool = False) -> Console:
    """The console on stdout (or stderr), made on first use; it writes to whatever sys.stdout is then."""
    from rich.console import Console

    return Console(stderr=to_stderr)


def __getattr__(name: str) -> Any:
    """`render.stdout` and `render.stderr`, the consoles, for the commands that print themselves."""
    if name in ("stdout", "stderr"):
        return console(name == "stderr")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_CONTROL_CHARS = {code: None for code in (*range(0, 9), *range(11, 32), 127)}


def safe(value: Any) -> str:
    """Text from the index or the user, made safe to print: no terminal control characters (an ESC
    in a configuration name must not recolour or retitle the terminal) and no rich markup."""
    from rich.markup import escape

    return escape(str(value).translate(_CONTROL_CHARS))


def error_line(text: str) -> None:
    """The one line a failure prints (text, never markup: messages quote names and API answers)."""
    console(True).print(f"[red]error:[/] {safe(scrub(text))}", highlight=False, soft_wrap=True)


def unexpected_error(error: Exception) -> None:
    """The last resort's one line: never a traceback, which may hold secrets."""
    console(True).print(f"[red]error:[/] unexpected {type(error).__name__}: {safe(scrub(str(error))[:300])} — "
                        "rerun with KV_DEBUG=1 for the traceback and report it", highlight=False, soft_wrap=True)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress callback drawing rich bars on stderr (only on a terminal)."""
    stderr = console(True)
    if not enabled or not stderr.is_terminal:
        yield lambda stage, advance, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=False) as bars:
        tasks: dict[str, Any] = {}

        def update(stage: str, advance: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total or 0)
            elif total is not None:
                bars.update(tasks[stage], total=total)
            if advance:
                bars.advance(tasks[stage], advance)

        yield update


def counts(data: dict[str, Any]) -> None:
    projects = data.get("projects") or {}
    if isinstance(projects, dict) and projects:
        from rich.table import Table

        table = Table("project", *next(iter(projects.values())).keys())
        for project_id, values in projects.items():
            table.add_row(str(project_id), *(str(v) for v in values.values()))
        console().print(table)


def summary(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    stdout = console()
    table = Table(title=f"Run summary — {data.get('collection')} ({data.get('embedder')})")
    columns = ("extracted", "embedded", "skipped", "upserted", "deleted", "payload_updated")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_row(*(str(data.get(c, 0)) for c in columns))
    stdout.print(table)
    if data.get("projects_unchanged"):
        stdout.print(f"Projects: {data['projects']}, of which {data['projects_unchanged']} unchanged since the "
                     "last run (not read again)")
    seconds = ", ".join(f"{stage} {value:.2f}s" for stage, value in data["seconds"].items())
    stdout.print(f"Seconds per stage: {seconds}")
    if data.get("usage"):
        stdout.print("Embedding usage: " + ", ".join(f"{k} {v}" for k, v in data["usage"].items()))


def results_title(query: str) -> str:
    return f"Results for “{query}”"


def results(found: list[Any], as_json: bool, title: str) -> None:
    if as_json:
        print_json([r.to_json() for r in found])
        return
    stdout = console()
    if not found:
        stdout.print("No results.")
        return
    from rich.style import Style
    from rich.text import Text

    from keboola_vectorizer.ranking.confidence import explain_line, no_good_match

    stdout.print(f"[bold]{safe(title)}[/]")
    warning = no_good_match(found[0].confidence)
    if warning:
        stdout.print(f"[yellow]{safe(warning)}[/]", soft_wrap=True, highlight=False)
    # One block per result rather than a table: ids and links must stay whole to be clickable/copyable.
    for position, result in enumerate(found, start=1):
        stdout.print(f"\n[bold]{position}. {safe(result.name)}[/]  [cyan]{safe(result.kind)}[/]  "
                     f"{safe(result.project_name)} ({result.project_id})  [dim]score {result.score:.3f}[/]",
                     soft_wrap=True, highlight=False)
        if result.snippet:
            stdout.print(f"   {safe(result.snippet)}", soft_wrap=True, highlight=False)
        stdout.print(f"   [dim]{safe(result.id)}[/]", soft_wrap=True, highlight=False)
        if result.explain is not None:
            stdout.print(f"   [dim]why: {safe(explain_line(result.explain))}[/]", soft_wrap=True, highlight=False)
        url = str(result.url).translate(_CONTROL_CHARS)
        stdout.print(Text.assemble("   ", Text(url, style=Style(link=url))), soft_wrap=True, highlight=False)


def lineage(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(result.to_json())
        return
    from rich.markup import escape
    from rich.text import Text
    from rich.tree import Tree

    stdout = console()
    root = result.root
    stdout.print(f"[bold]{root.name}[/]  [cyan]{root.kind}[/]  [dim]{root.id}[/]", soft_wrap=True,
                 highlight=False)
    for direction, nodes in (("upstream", result.upstream), ("downstream", result.downstream)):
        tree = Tree(f"[bold]{direction}[/] ({len(nodes)})")
        branches: dict[str, Any] = {root.id: tree}
        for node in nodes:
            parent = branches.get(node.via or "", tree)
            label = f"{escape(node.name)}  [cyan]{node.kind}[/]  [dim]{escape(node.id)}[/]"
            if not node.indexed:
                label += "  [yellow](not in the index)[/]"
            branches[node.id] = parent.add(Text.from_markup(label, overflow="fold"))
        if not nodes:
            tree.add("[dim]none found[/]")
        stdout.print(tree, crop=False)


def status(data: dict[str, Any], as_json: bool, watch_lines: list[str]) -> None:
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    stdout = console()
    if not data["exists"]:
        stdout.print(f"No index at {data['location']} — run `keboola-vectorizer index` first.")
        return
    stdout.print(f"Collection [bold]{data['collection']}[/] at {data['location']}")
    stdout.print(f"Model {data['model']} ({data['dimension']} dimensions), {data['points']} points"
                 + (f" ({data['dev_branch_points']} in dev branches, searched only with --branch)"
                    if data["dev_branch_points"] else ""))
    table = Table("kind", "points")
    for kind_name, count in sorted(data["by_kind"].items()):
        table.add_row(str(kind_name), str(count))
    stdout.print(table)
    last = data["last_run"]
    if last:
        stdout.print(f"Last run finished {last.get('finished_at')}: embedded {last.get('embedded')}, "
                     f"skipped {last.get('skipped')}, deleted {last.get('deleted')}")
    for line in watch_lines:
        stdout.print(safe(line), highlight=False)


def doctor(checks: list[Any], ok: bool, as_json: bool) -> None:
    if as_json:
        print_json({"ok": ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]})
        return
    stdout = console()
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        stdout.print(f"{mark} {check.name}: {safe(scrub(check.detail))}", soft_wrap=True, highlight=False)


def snapshot(info: Any, as_json: bool, action: str) -> None:
    if as_json:
        print_json(info.to_dict())
    elif action == "create":
        console().print(f"Snapshot [bold]{info.name}[/] of {info.collection}: {info.points} points")
    else:
        console().print(f"Restored [bold]{info.name}[/]: {info.points} points, content hashes verified")


def snapshots(infos: list[Any], as_json: bool) -> None:
    if as_json:
        print_json([info.to_dict() for info in infos])
        return
    if not infos:
        console().print("No snapshots.")
        return
    from rich.table import Table

    table = Table("name", "collection", "points", "taken at")
    for info in infos:
        table.add_row(info.name, info.collection, str(info.points), str(info.taken_at))
    console().print(table)

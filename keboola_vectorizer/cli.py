"""The `keboola-vectorizer` command line: options -> calls -> rendering (rich tables or --json).

Kept thin on purpose: every command parses options, calls one function of the package and renders
what it returns. Errors the user can act on arrive as `VectorizerError` and leave as one line on
stderr with a documented exit code (README.md); nothing else is printed on failure.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.style import Style
from rich.table import Table
from rich.text import Text

from keboola_vectorizer.audit import observed_run
from keboola_vectorizer.config import Settings, load_settings
from keboola_vectorizer.errors import ConfigError, KeboolaAuthError, VectorizerError
from keboola_vectorizer.logging_setup import configure_logging, context, register_secrets, scrub
from keboola_vectorizer.metrics import get_metrics
from keboola_vectorizer.service.command import serve as serve_command

app = typer.Typer(
    name="keboola-vectorizer",
    help="Index Keboola project metadata into Qdrant and search it by meaning.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which may hold tokens: never show them.
    pretty_exceptions_enable=False,
)
stdout = Console()
stderr = Console(stderr=True)


class Mode(str, Enum):
    hybrid = "hybrid"
    dense = "dense"
    sparse = "sparse"


class Kind(str, Enum):
    bucket = "bucket"
    table = "table"
    column = "column"
    configuration = "configuration"
    configuration_row = "configuration_row"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


_state: dict[str, Any] = {}


@app.callback()
def _global(
    log_format: Annotated[LogFormat | None, typer.Option(help="Log lines as text or JSON (env LOG_FORMAT).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    settings = load_settings()
    register_secrets(settings.secret_values())
    configure_logging(log_format.value if log_format else settings.log_format,
                      "DEBUG" if verbose else settings.log_level)
    _state["settings"] = settings


def _settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = load_settings()
    return _state["settings"]


def _print_json(data: Any) -> None:
    sys.stdout.write(scrub(json.dumps(data, indent=2, ensure_ascii=False, default=str)) + "\n")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress callback drawing rich bars on stderr (only on a terminal)."""
    if not enabled or not stderr.is_terminal:
        yield lambda stage, advance, total: None
        return
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


# -- embedder and store construction ---------------------------------------------------------------

def _make_embedder(provider: str | None, model: str | None, dimensions: int | None) -> Any:
    from keboola_vectorizer.embedding.base import create_embedder

    return create_embedder(_settings().embedding_settings(provider, model, dimensions))


def embedder_for_collection(meta: Any) -> Any:
    """The embedder that built the collection (its id is `provider/model@dimension`)."""
    from keboola_vectorizer.engine import embedder_for_meta

    return embedder_for_meta(meta, _settings())


_RUNS_AS_PROCESS = False  # set by main(): the command is the last thing this process does


def _close_after_reading(store: Any) -> None:
    """Close a store a read-only command is done with; see `store.edge.keep_read_shards_until_exit`."""
    if _RUNS_AS_PROCESS and _settings().qdrant_url is None:
        from keboola_vectorizer.store.edge import keep_read_shards_until_exit

        keep_read_shards_until_exit()
    store.close()


def _store(interactive: bool = False) -> Any:
    """The configured store; `interactive` for commands a person waits on (they fail fast)."""
    from keboola_vectorizer.store.factory import open_store

    return open_store(_settings(), interactive=interactive)


# -- extract ---------------------------------------------------------------------------------------

def _project_sources(projects_config: Path | None) -> list[Any]:
    from keboola_vectorizer.config import secrets_dir
    from keboola_vectorizer.keboola.projects_config import load_projects_config, sources_from_env

    settings = _settings()
    config_path = projects_config or settings.kbc_projects_config
    if config_path:
        return load_projects_config(Path(config_path), secrets_dir())
    token = settings.kbc_storage_token.get_secret_value() if settings.kbc_storage_token else None
    if not settings.kbc_storage_api_url or not token:
        missing = "KBC_STORAGE_API_URL" if not settings.kbc_storage_api_url else "KBC_STORAGE_TOKEN"
        # README's exit codes: a missing token is 4 (like a rejected one), a missing stack URL is 3.
        error_type = ConfigError if missing == "KBC_STORAGE_API_URL" else KeboolaAuthError
        raise error_type(
            f"{missing} is not set, so there is no Keboola project to extract",
            "set KBC_STORAGE_API_URL and KBC_STORAGE_TOKEN, pass --projects-config FILE, "
            "or index a saved snapshot with --snapshot DIR (--sample for the generated demo organisation)",
        )
    return sources_from_env(settings.kbc_storage_api_url, token)


def _shard(sources: list[Any], shard_index: int | None, shard_count: int | None) -> list[Any]:
    index = shard_index if shard_index is not None else _env_int("KV_SHARD_INDEX", "JOB_COMPLETION_INDEX")
    count = shard_count if shard_count is not None else _env_int("KV_SHARD_COUNT")
    if count is None or count <= 1:
        return sources
    if index is None or not 0 <= index < count:
        raise ConfigError(f"shard index {index} is outside 0..{count - 1}",
                          "set --shard-index (or JOB_COMPLETION_INDEX) below --shard-count")
    return sources[index::count]


def _env_int(*names: str) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise ConfigError(f"{name}={value!r} is not a whole number", f"fix {name}") from None
    return None


def _do_extract(out: Path, projects_config: Path | None, shard_index: int | None,
                shard_count: int | None, show_progress: bool) -> Any:
    """The extract result, or None when this shard of an Indexed Job got no project (nothing to do
    is success: failing would fail the whole Job)."""
    from keboola_vectorizer.keboola.extract import extract_snapshot

    sources = _shard(_project_sources(projects_config), shard_index, shard_count)
    if not sources:
        logging.getLogger(__name__).warning("this shard has no project to extract; nothing to do")
        return None
    with context(stage="extract"), _progress(show_progress) as progress:
        def on_progress(label: str, done: int, total: int) -> None:
            progress("extract", 1 if done else 0, total if done == 0 else None)

        settings = _settings()
        return extract_snapshot(sources, out, progress=on_progress, timeout_s=settings.kbc_timeout,
                                deadline_s=settings.kbc_retry_deadline)


@app.command()
def extract(
    out: Annotated[Path, typer.Option("--out", "-o", help="Snapshot directory to write.")] = Path("snapshot"),
    projects_config: Annotated[Path | None, typer.Option(help="YAML/JSON projects config (several "
                                                          "projects and stacks).")] = None,
    shard_index: Annotated[int | None, typer.Option(help="This pod's shard (Indexed Job).")] = None,
    shard_count: Annotated[int | None, typer.Option(help="Number of shards.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Pull live projects through the Storage API into a snapshot directory."""
    started = time.perf_counter()
    result = _do_extract(out, projects_config, shard_index, shard_count, not as_json)
    data = _as_dict(result) if result is not None else {"projects": {}}
    data["seconds"] = round(time.perf_counter() - started, 3)
    data["snapshot"] = str(out)
    if as_json:
        _print_json(data)
    else:
        stdout.print(f"Snapshot written to [bold]{out}[/] in {data['seconds']} s")
        _print_counts(data)


def _as_dict(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_json"):
        return result.to_json()
    from dataclasses import asdict, is_dataclass

    return asdict(result) if is_dataclass(result) else dict(result)


def _print_counts(data: dict[str, Any]) -> None:
    projects = data.get("projects") or {}
    if isinstance(projects, dict) and projects:
        table = Table("project", *next(iter(projects.values())).keys())
        for project_id, counts in projects.items():
            table.add_row(str(project_id), *(str(v) for v in counts.values()))
        stdout.print(table)


# -- index / embed / upsert ------------------------------------------------------------------------

def _open_snapshot(snapshot: Path | None, sample: bool) -> Any:
    from keboola_vectorizer.keboola.snapshot import Snapshot

    if sample:
        from keboola_vectorizer.demo_org import demo_snapshot_dir

        return Snapshot(demo_snapshot_dir())
    if snapshot is None:
        raise ConfigError("no snapshot given", "pass --snapshot DIR or --sample")
    opened = Snapshot(snapshot)
    opened.check()  # a corrupt project fails the run before anything is written, not half-way
    return opened


@contextmanager
def _index_lock() -> Iterator[None]:
    from keboola_vectorizer.locking import collection_lock

    with collection_lock(_settings()):
        yield


ProviderOpt = Annotated[str | None, typer.Option("--provider", help="Embedding provider: local or openai "
                                                 "(env EMBEDDING_PROVIDER).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Embedding model (env EMBEDDING_MODEL).")]
DimensionsOpt = Annotated[int | None, typer.Option("--dimensions", min=1, help="Output dimensions "
                                                   "(OpenAI text-embedding-3 models).")]
SnapshotOpt = Annotated[Path | None, typer.Option("--snapshot", help="Snapshot directory (as `extract` "
                                                  "writes it) instead of a live extract.")]
SampleOpt = Annotated[bool, typer.Option("--sample", help="Use the generated demo organisation (written "
                                         "once into the user cache, or KV_DEMO_ORG_DIR).")]


@app.command()
@observed_run("index")
def index(
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build a fresh collection and switch to it "
                                          "when complete (needed to change model).")] = False,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    dimensions: DimensionsOpt = None,
    projects_config: Annotated[Path | None, typer.Option(help="Projects config for a live extract.")] = None,
    keep_snapshot: Annotated[Path | None, typer.Option(help="Keep the live extract in this directory.")] = None,
    shard_index: Annotated[int | None, typer.Option(help="This pod's shard (Indexed Job).")] = None,
    shard_count: Annotated[int | None, typer.Option(help="Number of shards.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per embed/upsert batch.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Extract (or read --snapshot) -> documents -> embed -> upsert; incremental unless --rebuild."""
    from keboola_vectorizer.pipeline import run_index

    started = time.perf_counter()
    extract_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="kv-extract-") as tmp:
        if snapshot is None and not sample:
            out = keep_snapshot or Path(tmp) / "snapshot"
            if _do_extract(out, projects_config, shard_index, shard_count, not as_json) is None:
                from keboola_vectorizer.pipeline import RunSummary

                _emit_summary(RunSummary(finished_at=time.strftime("%Y-%m-%dT%H:%M:%S")).to_json(), as_json)
                return
            snapshot = out
            extract_seconds = time.perf_counter() - started
        snap = _open_snapshot(snapshot, sample)
        embedder = _make_embedder(provider, model, dimensions)
        with _index_lock():
            store = _store()
            try:
                with _progress(not as_json) as progress:
                    summary = run_index(snap, store, embedder, rebuild=rebuild, batch_size=batch_size,
                                        progress=progress)
            finally:
                store.close()
    if extract_seconds:
        summary.add_time("extract", extract_seconds)
        get_metrics().stage_duration("extract", extract_seconds)
    data = summary.to_json()
    data["seconds"]["wall"] = round(time.perf_counter() - started, 3)
    _emit_summary(data, as_json)


def _emit_summary(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"Run summary — {data.get('collection')} ({data.get('embedder')})")
    columns = ("extracted", "embedded", "skipped", "upserted", "deleted", "payload_updated")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_row(*(str(data.get(c, 0)) for c in columns))
    stdout.print(table)
    seconds = ", ".join(f"{stage} {value:.2f}s" for stage, value in data["seconds"].items())
    stdout.print(f"Seconds per stage: {seconds}")
    if data.get("usage"):
        stdout.print("Embedding usage: " + ", ".join(f"{k} {v}" for k, v in data["usage"].items()))


@app.command()
def embed(
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Vectors file (default SNAPSHOT/vectors.jsonl).")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    dimensions: DimensionsOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Embed every document, not only those the "
                                       "index lacks.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Embed a snapshot's new or changed documents into a vectors file (no store writes)."""
    from keboola_vectorizer.pipeline import run_embed_stage, vectors_path

    snap = _open_snapshot(snapshot, sample)
    target = vectors_path(snap, out)
    embedder = _make_embedder(provider, model, dimensions)
    store = None if full else _store()
    try:
        if store is not None and store.meta() is not None and store.meta().embedder_id != embedder.id:
            store.close()
            store = None
        with _progress(not as_json) as progress:
            summary = run_embed_stage(snap, store, embedder, target, progress=progress)
    finally:
        if store is not None:
            store.close()
    data = summary.to_json()
    data["vectors_file"] = str(target)
    _emit_summary(data, as_json)


@app.command()
def upsert(
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
    vectors: Annotated[Path | None, typer.Option("--vectors", help="Vectors file written by `embed`.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Upsert a vectors file into the index and delete points whose documents are gone."""
    from keboola_vectorizer.pipeline import run_upsert_stage, vectors_path

    snap = _open_snapshot(snapshot, sample)
    with _index_lock():
        store = _store()
        try:
            with _progress(not as_json) as progress:
                summary = run_upsert_stage(snap, store, vectors_path(snap, vectors), progress=progress)
        finally:
            store.close()
    _emit_summary(summary.to_json(), as_json)


@app.command()
def documents(
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
) -> None:
    """Print the documents exactly as they would be embedded, one JSON object per line."""
    from keboola_vectorizer.pipeline import iter_documents

    snap = _open_snapshot(snapshot, sample)
    write = sys.stdout.write
    for document in iter_documents(snap):
        write(json.dumps(document.to_json(), ensure_ascii=False) + "\n")


# -- search and friends ----------------------------------------------------------------------------

def _filters(project: list[int] | None, kind: list[Kind] | None, bucket: list[str] | None,
             component: list[str] | None, stage: list[str] | None, branch: list[str] | None = None) -> Any:
    from keboola_vectorizer.store.base import SearchFilters

    for value in stage or []:
        if value not in ("in", "out"):
            raise ConfigError(f"unknown stage {value!r}", "use --stage in or --stage out")
    return SearchFilters(project_ids=list(project or []), kinds=[k.value for k in kind or []],
                         bucket_ids=list(bucket or []), component_ids=list(component or []),
                         stages=list(stage or []), branches=list(branch or []))


ProjectOpt = Annotated[list[int] | None, typer.Option("--project", help="Only this project id (repeatable).")]
KindOpt = Annotated[list[Kind] | None, typer.Option("--kind", help="Only this kind (repeatable).")]
BucketOpt = Annotated[list[str] | None, typer.Option("--bucket", help="Only this bucket id (repeatable).")]
ComponentOpt = Annotated[list[str] | None, typer.Option("--component", help="Only this component id.")]
StageOpt = Annotated[list[str] | None, typer.Option("--stage", help="Only the in or out stage.")]
BranchOpt = Annotated[list[str] | None, typer.Option(
    "--branch", help="Also dev-branch objects of this branch id or name (repeatable; `all`: every branch). "
    "Without it only production is shown.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Number of results.")]
BoostOpt = Annotated[bool, typer.Option("--boost", help="Favour recently changed and much-used tables "
                                        "(a Qdrant formula query; off by default).")]


def _boost(enabled: bool) -> Any:
    from keboola_vectorizer.store.base import Boost

    return Boost() if enabled else None


def _lazy_embedder(store: Any) -> Callable[[], Any]:
    cache: dict[str, Any] = {}

    def get() -> Any:
        if "embedder" not in cache:
            cache["embedder"] = embedder_for_collection(store.meta())
        return cache["embedder"]

    return get


_CONTROL_CHARS = {code: None for code in (*range(0, 9), *range(11, 32), 127)}


def _safe(value: Any) -> str:
    """Text from the index or the user, made safe to print: no terminal control characters (an ESC
    in a configuration name must not recolour or retitle the terminal) and no rich markup."""
    from rich.markup import escape

    return escape(str(value).translate(_CONTROL_CHARS))


def _render_results(results: list[Any], as_json: bool, title: str) -> None:
    if as_json:
        _print_json([r.to_json() for r in results])
        return
    if not results:
        stdout.print("No results.")
        return
    from keboola_vectorizer.ranking.confidence import explain_line, no_good_match

    stdout.print(f"[bold]{_safe(title)}[/]")
    warning = no_good_match(results[0].confidence)
    if warning:
        stdout.print(f"[yellow]{_safe(warning)}[/]", soft_wrap=True, highlight=False)
    # One block per result rather than a table: ids and links must stay whole to be clickable/copyable.
    for position, result in enumerate(results, start=1):
        stdout.print(f"\n[bold]{position}. {_safe(result.name)}[/]  [cyan]{_safe(result.kind)}[/]  "
                     f"{_safe(result.project_name)} ({result.project_id})  [dim]score {result.score:.3f}[/]",
                     soft_wrap=True, highlight=False)
        if result.snippet:
            stdout.print(f"   {_safe(result.snippet)}", soft_wrap=True, highlight=False)
        stdout.print(f"   [dim]{_safe(result.id)}[/]", soft_wrap=True, highlight=False)
        if result.explain is not None:
            stdout.print(f"   [dim]why: {_safe(explain_line(result.explain))}[/]", soft_wrap=True, highlight=False)
        url = str(result.url).translate(_CONTROL_CHARS)
        stdout.print(Text.assemble("   ", Text(url, style=Style(link=url))), soft_wrap=True, highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    project: ProjectOpt = None,
    kind: KindOpt = None,
    bucket: BucketOpt = None,
    component: ComponentOpt = None,
    stage: StageOpt = None,
    branch: BranchOpt = None,
    mode: Annotated[Mode, typer.Option(help="hybrid (dense + BM25, fused), dense or sparse.")] = Mode.hybrid,
    limit: LimitOpt = 10,
    boost: BoostOpt = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show why each result ranks (ranks, matched "
                                          "column, boosts).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Find tables, columns, configurations and flows by meaning."""
    from keboola_vectorizer.search import ensure_searchable
    from keboola_vectorizer.search import search as run_search

    if not query.strip():
        raise ConfigError("the search query is empty", "pass the words to search for")
    filters = _filters(project, kind, bucket, component, stage, branch)
    if _settings().kv_service_url:
        _render_results(_search_via_service(query, filters, mode.value, limit, boost), as_json,
                        f"Results for “{query}”")
        return
    store = _store(interactive=True)
    started, results = time.perf_counter(), None
    try:
        ensure_searchable(store)
        results = run_search(store, _lazy_embedder(store), query, mode=mode.value,
                             filters=filters, limit=limit, boost=_boost(boost), explain=explain)
    finally:
        _close_after_reading(store)
        _audit_search(query, mode.value, filters, limit, results, time.perf_counter() - started)
    _render_results(results, as_json, f"Results for “{query}”")


def _search_via_service(query: str, filters: Any, mode: str, limit: int, boost: bool) -> list[Any]:
    """KV_SERVICE_URL: ask the running service (warm model) instead of loading one here."""
    from keboola_vectorizer.service.client import search_via_service

    if boost:
        raise ConfigError("--boost is not offered by the search service", "unset KV_SERVICE_URL to use it")
    if filters.branches:
        raise ConfigError("--branch is not offered by the search service", "unset KV_SERVICE_URL to use it")
    settings = _settings()
    key = settings.kv_api_key.get_secret_value() if settings.kv_api_key else None
    return search_via_service(str(settings.kv_service_url), key, query, filters=filters, mode=mode, limit=limit,
                              timeout=settings.kv_service_timeout)


def _audit_search(query: str, mode: str, filters: Any, limit: int, results: list[Any] | None,
                  seconds: float) -> None:
    from keboola_vectorizer.audit import log_search

    token = _settings().kbc_storage_token
    log_search(token=token.get_secret_value() if token else None, query=query, mode=mode, filters=filters,
               limit=limit, results=results, seconds=seconds)


@app.command()
def similar(
    document_id: Annotated[str, typer.Argument(help="Document id, e.g. 9001/table/out.c-crm.company.")],
    project: ProjectOpt = None,
    kind: KindOpt = None,
    bucket: BucketOpt = None,
    component: ComponentOpt = None,
    stage: StageOpt = None,
    branch: BranchOpt = None,
    limit: LimitOpt = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Objects most like a given one (Qdrant recommend), with the search filters."""
    from keboola_vectorizer.search import ensure_searchable
    from keboola_vectorizer.search import similar as run_similar

    store = _store(interactive=True)
    try:
        ensure_searchable(store)
        results = run_similar(store, document_id, filters=_filters(project, kind, bucket, component, stage, branch),
                              limit=limit)
    finally:
        _close_after_reading(store)
    _render_results(results, as_json, f"Most like {document_id}")


@app.command()
def lineage(
    ref: Annotated[str, typer.Argument(help="Table id (out.c-crm.company) or document id "
                                       "(9001/table/out.c-crm.company, or a configuration's).")],
    project: Annotated[int | None, typer.Option("--project", help="Project id, when several hold the "
                                                "table.")] = None,
    depth: Annotated[int, typer.Option("--depth", min=1, max=20, help="Configuration steps to follow "
                                       "each way.")] = 1,
    branch: BranchOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the lineage as JSON.")] = False,
) -> None:
    """Upstream (what produces it) and downstream (what uses it) of a table, from the index."""
    from keboola_vectorizer.lineage_query import lineage as run_lineage
    from keboola_vectorizer.search import ensure_searchable

    store = _store(interactive=True)
    try:
        ensure_searchable(store)
        result = run_lineage(store, ref, project_id=project, depth=depth, branches=list(branch or []))
    finally:
        _close_after_reading(store)
    if as_json:
        _print_json(result.to_json())
        return
    _render_lineage(result)


def _render_lineage(result: Any) -> None:
    from rich.markup import escape
    from rich.text import Text
    from rich.tree import Tree

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


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Collection, model, dimension, point counts (total, by kind, by project, dev branches) and the last run."""
    from keboola_vectorizer.store.base import SearchFilters
    from keboola_vectorizer.watch.command import status_lines

    store = _store(interactive=True)
    try:
        meta = store.meta()
        state = store.read_state() if meta else {}
        data: dict[str, Any] = {
            "collection": store.name,
            "location": store.location,
            "exists": meta is not None,
            "model": meta.embedder_id if meta else None,
            "dimension": meta.dimension if meta else None,
            "points": store.count() if meta else 0,
            # Dev-branch objects are indexed but left out of searches unless --branch asks for them.
            "dev_branch_points": (store.count() - store.count(SearchFilters())) if meta else 0,
            "by_kind": store.counts_by("kind") if meta else {},
            "by_project": {str(k): v for k, v in sorted(store.counts_by("project_id").items())} if meta else {},
            "last_run": state.get("last_run"),
            "watch": (state.get("watch") or {}).get("projects") or {},
        }
    finally:
        _close_after_reading(store)
    if as_json:
        _print_json(data)
        return
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
    for line in status_lines({"watch": {"projects": data["watch"]}}):
        stdout.print(_safe(line), highlight=False)


@app.command("eval")
def eval_command(
    questions: Annotated[Path | None, typer.Option("--questions", help="JSON Lines questions file.")] = None,
    mode: Annotated[Mode, typer.Option(help="Search mode to evaluate.")] = Mode.hybrid,
    boost: BoostOpt = False,
    rankings: Annotated[Path | None, typer.Option("--rankings", help="Write each question's top 10 here "
                                                  "(JSON Lines, for --compare).")] = None,
    compare: Annotated[tuple[Path, Path] | None, typer.Option("--compare", help="Paired comparison of two "
                                                              "--rankings files (BEFORE AFTER).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hit@k, recall@k (k = 1, 5, 10), MRR@10 and nDCG@10 with 95% intervals, by kind of object."""
    from keboola_vectorizer.eval_cli import compare_command, run_eval

    if compare:
        compare_command(compare[0], compare[1], as_json)
        return
    if questions is None:
        raise ConfigError("eval needs --questions FILE (or --compare BEFORE AFTER)",
                          "pass a JSON Lines questions file")
    store = _store()
    try:
        run_eval(store, _lazy_embedder(store), questions, mode=mode.value, boost=_boost(boost),
                 rankings=rankings, as_json=as_json)
    finally:
        store.close()


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False) -> None:
    """Check Keboola tokens and stacks, Qdrant, the cluster and the model; exit 0 only if all pass."""
    from keboola_vectorizer.doctor import run_checks

    checks = run_checks(_settings())
    ok = all(check.ok for check in checks)
    if as_json:
        _print_json({"ok": ok, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]})
    else:
        for check in checks:
            mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
            stdout.print(f"{mark} {check.name}: {_safe(scrub(check.detail))}", soft_wrap=True, highlight=False)
    if not ok:
        raise typer.Exit(1)


from keboola_vectorizer.watch.command import watch as _watch  # noqa: E402

app.command("watch")(observed_run("watch")(_watch))

snapshot_app = typer.Typer(help="Back up and restore the index (server: collection snapshots on every "
                           "peer; Edge: a copy of the closed shard directory).", no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")
app.command()(serve_command)


def _snapshot_store() -> Any:
    store = _store()
    if not hasattr(store, "create_snapshot"):
        raise ConfigError("this backend has no snapshots", "use Qdrant Edge or a Qdrant server")
    return store


@snapshot_app.command("create")
def snapshot_create(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Snapshot the collection, recording its point count and a digest of its content hashes."""
    with _index_lock():
        store = _snapshot_store()
        try:
            info = store.create_snapshot()
        finally:
            store.close()
    if as_json:
        _print_json(info.to_dict())
    else:
        stdout.print(f"Snapshot [bold]{info.name}[/] of {info.collection}: {info.points} points")


@snapshot_app.command("list")
def snapshot_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List snapshots of the collection."""
    store = _snapshot_store()
    try:
        infos = store.list_snapshots()
    finally:
        store.close()
    if as_json:
        _print_json([info.to_dict() for info in infos])
        return
    if not infos:
        stdout.print("No snapshots.")
        return
    table = Table("name", "collection", "points", "taken at")
    for info in infos:
        table.add_row(info.name, info.collection, str(info.points), str(info.taken_at))
    stdout.print(table)


@snapshot_app.command("restore")
def snapshot_restore(
    name: Annotated[str, typer.Argument(help="Snapshot name (from `snapshot list`) or location.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Restore a snapshot and verify its point count and content hashes before switching to it."""
    with _index_lock():
        store = _snapshot_store()
        try:
            info = store.restore_snapshot(name)
        finally:
            store.close()
    if as_json:
        _print_json(info.to_dict())
    else:
        stdout.print(f"Restored [bold]{info.name}[/]: {info.points} points, content hashes verified")


from keboola_vectorizer.mcp_server.command import mcp as _mcp_command  # noqa: E402

app.command("mcp")(_mcp_command)


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Typer vendors its own click (typer._click) next to the real one: usage errors come from either."""
    found: list[type[Exception]] = [click.exceptions.UsageError]
    try:
        from typer._click.exceptions import UsageError as VendoredUsageError
    except ImportError:
        return tuple(found)
    return (*found, VendoredUsageError)


_USAGE_ERRORS = _usage_error_types()


def main() -> None:
    """Entry point: run the app; turn foreseen failures into one line and a documented exit code."""
    global _RUNS_AS_PROCESS
    _RUNS_AS_PROCESS = True
    try:
        code = app(standalone_mode=False)
    except VectorizerError as error:
        # Messages quote paths, names and API answers: printed as text, never as rich markup.
        stderr.print(f"[red]error:[/] {_safe(scrub(error.one_line()))}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        stderr.print("aborted")
        sys.exit(130)
    except _USAGE_ERRORS as error:
        # One line like every other failure: what was wrong, and where the options are listed.
        where = f"{error.ctx.command_path} --help" if error.ctx is not None else "--help"
        stderr.print(f"error: {scrub(' '.join(error.format_message().split()))} — see `{where}`",
                     highlight=False, soft_wrap=True, markup=False)
        sys.exit(error.exit_code)
    except (typer.exceptions.TyperException, click.exceptions.ClickException) as error:
        # Typer vendors click: usage errors come from either, and both know how to show themselves.
        show = getattr(error, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(error, "exit_code", 2))
    except KeyboardInterrupt:
        stderr.print("interrupted — rerun the same command to resume; finished work is kept")
        sys.exit(130)
    except Exception as error:  # the last resort: one line, never a traceback with secrets
        if os.environ.get("KV_DEBUG"):
            raise
        stderr.print(f"[red]error:[/] unexpected {type(error).__name__}: {_safe(scrub(str(error))[:300])} — "
                     "rerun with KV_DEBUG=1 for the traceback and report it", highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

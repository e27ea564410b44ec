"""extract, index, embed, upsert and documents: from the Storage API (or a snapshot) into the index."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keboola_vectorizer.audit import observed_run
from keboola_vectorizer.cli import render
from keboola_vectorizer.cli.context import Invocation, invocation
from keboola_vectorizer.cli.options import (
    DimensionsOpt,
    JsonOpt,
    ModelOpt,
    ProjectsConfigOpt,
    ProviderOpt,
    SampleOpt,
    ShardCountOpt,
    ShardIndexOpt,
    SnapshotOpt,
)
from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.logging_setup import context
from keboola_vectorizer.metrics import get_metrics

if TYPE_CHECKING:
    from keboola_vectorizer.keboola.extract import ExtractResult
    from keboola_vectorizer.keboola.snapshot import Snapshot

log = logging.getLogger(__name__)


def _extract(inv: Invocation, out: Path, projects_config: Path | None, shard_index: int | None,
             shard_count: int | None, show_progress: bool) -> ExtractResult | None:
    """The extract result, or None when this shard of an Indexed Job got no project (nothing to do
    is success: failing would fail the whole Job)."""
    from keboola_vectorizer.keboola.extract import extract_snapshot
    from keboola_vectorizer.keboola.projects_config import project_sources, shard

    settings = inv.settings
    sources = shard(project_sources(settings, projects_config), settings, shard_index, shard_count)
    if not sources:
        log.warning("this shard has no project to extract; nothing to do")
        return None
    with context(stage="extract"), render.progress_bars(show_progress) as progress:
        def on_progress(label: str, done: int, total: int) -> None:
            progress("extract", 1 if done else 0, total if done == 0 else None)

        return extract_snapshot(sources, out, progress=on_progress, timeout_s=settings.kbc_timeout,
                                deadline_s=settings.kbc_retry_deadline)


def extract(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Snapshot directory to write.")] = Path("snapshot"),
    projects_config: ProjectsConfigOpt = None,
    shard_index: ShardIndexOpt = None,
    shard_count: ShardCountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pull live projects through the Storage API into a snapshot directory."""
    started = time.perf_counter()
    result = _extract(invocation(ctx), out, projects_config, shard_index, shard_count, not as_json)
    data = result.to_json() if result is not None else {"projects": {}}
    data["seconds"] = round(time.perf_counter() - started, 3)
    data["snapshot"] = str(out)
    if as_json:
        render.print_json(data)
    else:
        render.stdout.print(f"Snapshot written to [bold]{out}[/] in {data['seconds']} s")
        render.counts(data)


def open_snapshot(snapshot: Path | None, sample: bool, *, check: bool = True) -> Snapshot:
    from keboola_vectorizer.keboola.snapshot import Snapshot

    if sample:
        from keboola_vectorizer.demo_org import demo_snapshot_dir

        return Snapshot(demo_snapshot_dir())
    if snapshot is None:
        raise ConfigError("no snapshot given", "pass --snapshot DIR or --sample")
    opened = Snapshot(snapshot)
    if check:
        opened.check()  # a corrupt project fails the run before anything is written, not half-way
    return opened


@observed_run("index")
def index(
    ctx: typer.Context,
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build a fresh collection and switch to it "
                                          "when complete (needed to change model).")] = False,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    dimensions: DimensionsOpt = None,
    projects_config: ProjectsConfigOpt = None,
    keep_snapshot: Annotated[Path | None, typer.Option(help="Keep the live extract in this directory.")] = None,
    shard_index: ShardIndexOpt = None,
    shard_count: ShardCountOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per embed/upsert batch.")] = 256,
    as_json: JsonOpt = False,
) -> None:
    """Extract (or read --snapshot) -> documents -> embed -> upsert; incremental unless --rebuild."""
    from keboola_vectorizer.pipeline import RunSummary, run_index

    inv = invocation(ctx)
    started = time.perf_counter()
    extract_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="kv-extract-") as tmp:
        if snapshot is None and not sample:
            out = keep_snapshot or Path(tmp) / "snapshot"
            if _extract(inv, out, projects_config, shard_index, shard_count, not as_json) is None:
                render.summary(RunSummary(finished_at=time.strftime("%Y-%m-%dT%H:%M:%S")).to_json(), as_json)
                return
            snapshot = out
            extract_seconds = time.perf_counter() - started
        # run_index checks the projects it will read (not those it skips unchanged) before writing.
        snap = open_snapshot(snapshot, sample, check=False)
        embedder = inv.embedder(provider, model, dimensions)
        with inv.index_lock(), inv.open_store() as store, render.progress_bars(not as_json) as progress:
            summary = run_index(snap, store, embedder, rebuild=rebuild, batch_size=batch_size, progress=progress,
                                validate=True)
    if extract_seconds:
        summary.add_time("extract", extract_seconds)
        get_metrics().stage_duration("extract", extract_seconds)
    data = summary.to_json()
    data["seconds"]["wall"] = round(time.perf_counter() - started, 3)
    render.summary(data, as_json)


def embed(
    ctx: typer.Context,
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Vectors file (default SNAPSHOT/vectors.jsonl).")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    dimensions: DimensionsOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Embed every document, not only those the "
                                       "index lacks.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Embed a snapshot's new or changed documents into a vectors file (no store writes)."""
    from keboola_vectorizer.stages import run_embed_stage, vectors_path

    inv = invocation(ctx)
    snap = open_snapshot(snapshot, sample)
    target = vectors_path(snap, out)
    embedder = inv.embedder(provider, model, dimensions)
    with (nullcontext(None) if full else inv.open_store()) as store, render.progress_bars(not as_json) as progress:
        meta = store.meta() if store is not None else None
        # Against the index only when it was built with this embedder: otherwise everything is new.
        diff_against = store if meta is not None and meta.embedder_id == embedder.id else None
        summary = run_embed_stage(snap, diff_against, embedder, target, progress=progress)
    data = summary.to_json()
    data["vectors_file"] = str(target)
    render.summary(data, as_json)


def upsert(
    ctx: typer.Context,
    snapshot: SnapshotOpt = None,
    sample: SampleOpt = False,
    vectors: Annotated[Path | None, typer.Option("--vectors", help="Vectors file written by `embed`.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Upsert a vectors file into the index and delete points whose documents are gone."""
    from keboola_vectorizer.stages import run_upsert_stage, vectors_path

    inv = invocation(ctx)
    snap = open_snapshot(snapshot, sample)
    with inv.index_lock(), inv.open_store() as store, render.progress_bars(not as_json) as progress:
        summary = run_upsert_stage(snap, store, vectors_path(snap, vectors), progress=progress)
    render.summary(summary.to_json(), as_json)


def documents(snapshot: SnapshotOpt = None, sample: SampleOpt = False) -> None:
    """Print the documents exactly as they would be embedded, one JSON object per line."""
    from keboola_vectorizer.pipeline import iter_documents

    write = sys.stdout.write
    for document in iter_documents(open_snapshot(snapshot, sample)):
        write(json.dumps(document.to_json(), ensure_ascii=False) + "\n")

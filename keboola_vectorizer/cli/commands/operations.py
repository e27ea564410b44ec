"""status, doctor and the snapshot group: looking after the index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keboola_vectorizer.cli import render
from keboola_vectorizer.cli.context import invocation
from keboola_vectorizer.cli.options import JsonOpt
from keboola_vectorizer.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from keboola_vectorizer.store.base import SupportsSnapshots, VectorStore


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Collection, model, dimension, point counts (total, by kind, by project, dev branches) and the last run."""
    from keboola_vectorizer.status import collection_status
    from keboola_vectorizer.watch.command import status_lines

    with invocation(ctx).open_store(read_only=True) as store:
        data = collection_status(store)
    render.status(data, as_json, status_lines({"watch": {"projects": data["watch"]}}))


def doctor(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check Keboola tokens and stacks, Qdrant, the cluster and the model; exit 0 only if all pass."""
    from keboola_vectorizer.doctor import run_checks

    checks = run_checks(invocation(ctx).settings)
    ok = all(check.ok for check in checks)
    render.doctor(checks, ok, as_json)
    if not ok:
        raise typer.Exit(ExitCode.FAILURE)


snapshot_app = typer.Typer(help="Back up and restore the index (server: collection snapshots on every "
                           "peer; Edge: a copy of the closed shard directory).", no_args_is_help=True)


def _with_snapshots(store: VectorStore) -> SupportsSnapshots:
    from keboola_vectorizer.store.base import SupportsSnapshots

    if not isinstance(store, SupportsSnapshots):
        raise ConfigError("this backend has no snapshots", "use Qdrant Edge or a Qdrant server")
    return store


@snapshot_app.command("create")
def snapshot_create(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Snapshot the collection, recording its point count and a digest of its content hashes."""
    inv = invocation(ctx)
    with inv.index_lock(), inv.open_store() as store:
        info = _with_snapshots(store).create_snapshot()
    render.snapshot(info, as_json, "create")


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List snapshots of the collection."""
    with invocation(ctx).open_store() as store:
        infos = _with_snapshots(store).list_snapshots()
    render.snapshots(infos, as_json)


@snapshot_app.command("restore")
def snapshot_restore(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Snapshot name (from `snapshot list`) or location.")],
    as_json: JsonOpt = False,
) -> None:
    """Restore a snapshot and verify its point count and content hashes before switching to it."""
    inv = invocation(ctx)
    with inv.index_lock(), inv.open_store() as store:
        info = _with_snapshots(store).restore_snapshot(name)
    render.snapshot(info, as_json, "restore")

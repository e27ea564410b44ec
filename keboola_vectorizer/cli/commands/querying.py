"""search, similar, lineage and eval: reading the index."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keboola_vectorizer.cli import render
from keboola_vectorizer.cli.context import Invocation, invocation
from keboola_vectorizer.cli.options import (
    BoostOpt,
    BranchOpt,
    BucketOpt,
    ComponentOpt,
    JsonOpt,
    KindOpt,
    LimitOpt,
    Mode,
    ModeOpt,
    ProjectOpt,
    StageOpt,
    boost_of,
    search_filters,
)
from keboola_vectorizer.errors import ConfigError

if TYPE_CHECKING:
    from keboola_vectorizer.search_result import SearchResult
    from keboola_vectorizer.store.base import SearchFilters


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    project: ProjectOpt = None,
    kind: KindOpt = None,
    bucket: BucketOpt = None,
    component: ComponentOpt = None,
    stage: StageOpt = None,
    branch: BranchOpt = None,
    mode: ModeOpt = Mode.hybrid,
    limit: LimitOpt = 10,
    boost: BoostOpt = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show why each result ranks (ranks, matched "
                                          "column, boosts).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Find tables, columns, configurations and flows by meaning."""
    from keboola_vectorizer.search import ensure_searchable, query_vector_aside
    from keboola_vectorizer.search import search as run_search

    inv = invocation(ctx)
    if not query.strip():
        raise ConfigError("the search query is empty", "pass the words to search for")
    filters = search_filters(project, kind, bucket, component, stage, branch)
    title = render.results_title(query)
    if inv.settings.kv_service_url:
        render.results(_search_via_service(inv, query, filters, mode.value, limit, boost, explain), as_json, title)
        return
    started, results = time.perf_counter(), None
    try:
        with inv.open_store(read_only=True) as store:
            embedder = inv.lazy_embedder(store)
            with query_vector_aside(embedder, query, mode.value) as query_dense:
                ensure_searchable(store)  # opens the index while the model loads
                results = run_search(store, embedder, query, mode=mode.value, filters=filters, limit=limit,
                                     boost=boost_of(boost), explain=explain, query_dense=query_dense())
    finally:
        _audit_search(inv, query, mode.value, filters, limit, results, time.perf_counter() - started)
    render.results(results, as_json, title)


def _search_via_service(inv: Invocation, query: str, filters: SearchFilters, mode: str, limit: int,
                        boost: bool, explain: bool) -> list[SearchResult]:
    """KV_SERVICE_URL: ask the running service (warm model) instead of loading one here."""
    from keboola_vectorizer.service.client import search_via_service

    if boost:
        raise ConfigError("--boost is not offered by the search service", "unset KV_SERVICE_URL to use it")
    if filters.branches:
        raise ConfigError("--branch is not offered by the search service", "unset KV_SERVICE_URL to use it")
    settings = inv.settings
    inv.opened_to_read = True
    key = settings.kv_api_key.get_secret_value() if settings.kv_api_key else None
    return search_via_service(str(settings.kv_service_url), key, query, mode=mode, limit=limit,
                              timeout=settings.kv_service_timeout, explain=explain, projects=filters.project_ids,
                              kinds=filters.kinds, buckets=filters.bucket_ids, components=filters.component_ids,
                              stages=filters.stages)


def _audit_search(inv: Invocation, query: str, mode: str, filters: SearchFilters, limit: int,
                  results: list[SearchResult] | None, seconds: float) -> None:
    from keboola_vectorizer.audit import log_search

    token = inv.settings.kbc_storage_token
    log_search(token=token.get_secret_value() if token else None, query=query, mode=mode, filters=filters,
               limit=limit, results=results, seconds=seconds)


def similar(
    ctx: typer.Context,
    document_id: Annotated[str, typer.Argument(help="Document id, e.g. 9001/table/out.c-crm.company.")],
    project: ProjectOpt = None,
    kind: KindOpt = None,
    bucket: BucketOpt = None,
    component: ComponentOpt = None,
    stage: StageOpt = None,
    branch: BranchOpt = None,
    limit: LimitOpt = 10,
    as_json: JsonOpt = False,
) -> None:
    """Objects most like a given one (Qdrant recommend), with the search filters."""
    from keboola_vectorizer.search import ensure_searchable
    from keboola_vectorizer.search import similar as run_similar

    with invocation(ctx).open_store(read_only=True) as store:
        ensure_searchable(store)
        filters = search_filters(project, kind, bucket, component, stage, branch)
        results = run_similar(store, document_id, filters=filters, limit=limit)
    render.results(results, as_json, f"Most like {document_id}")


def lineage(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Table id (out.c-crm.company) or document id "
                                       "(9001/table/out.c-crm.company, or a configuration's).")],
    project: Annotated[int | None, typer.Option("--project", help="Project id, when several hold the "
                                                "table.")] = None,
    depth: Annotated[int, typer.Option("--depth", min=1, max=20, help="Configuration steps to follow "
                                       "each way.")] = 1,
    branch: BranchOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upstream (what produces it) and downstream (what uses it) of a table, from the index."""
    from keboola_vectorizer.lineage_query import lineage as run_lineage
    from keboola_vectorizer.search import ensure_searchable

    with invocation(ctx).open_store(read_only=True) as store:
        ensure_searchable(store)
        result = run_lineage(store, ref, project_id=project, depth=depth, branches=list(branch or []))
    render.lineage(result, as_json)


def eval_command(
    ctx: typer.Context,
    questions: Annotated[Path | None, typer.Option("--questions", help="JSON Lines questions file.")] = None,
    mode: ModeOpt = Mode.hybrid,
    boost: BoostOpt = False,
    rankings: Annotated[Path | None, typer.Option("--rankings", help="Write each question's top 10 here "
                                                  "(JSON Lines, for --compare).")] = None,
    compare: Annotated[tuple[Path, Path] | None, typer.Option("--compare", help="Paired comparison of two "
                                                              "--rankings files (BEFORE AFTER).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hit@k, recall@k (k = 1, 5, 10), MRR@10 and nDCG@10 with 95% intervals, by kind of object."""
    from keboola_vectorizer.eval_cli import compare_command, run_eval

    if compare:
        compare_command(compare[0], compare[1], as_json)
        return
    if questions is None:
        raise ConfigError("eval needs --questions FILE (or --compare BEFORE AFTER)",
                          "pass a JSON Lines questions file")
    inv = invocation(ctx)
    with inv.open_store() as store:
        run_eval(store, inv.lazy_embedder(store), questions, mode=mode.value, boost=boost_of(boost),
                 rankings=rankings, as_json=as_json)

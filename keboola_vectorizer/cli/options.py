"""Every option more than one command takes, defined once (pdm's `cli/options.py`)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.ids import STAGES, Kind
from keboola_vectorizer.search_result import MAX_RESULTS

if TYPE_CHECKING:
    from keboola_vectorizer.store.base import Boost, SearchFilters


class Mode(str, Enum):
    hybrid = "hybrid"
    dense = "dense"
    sparse = "sparse"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the output as JSON.")]

ProviderOpt = Annotated[str | None, typer.Option("--provider", help="Embedding provider: local or openai "
                                                 "(env EMBEDDING_PROVIDER).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Embedding model (env EMBEDDING_MODEL).")]
DimensionsOpt = Annotated[int | None, typer.Option("--dimensions", min=1, help="Output dimensions "
                                                   "(OpenAI text-embedding-3 models).")]

SnapshotOpt = Annotated[Path | None, typer.Option("--snapshot", help="Snapshot directory (as `extract` "
                                                  "writes it) instead of a live extract.")]
SampleOpt = Annotated[bool, typer.Option("--sample", help="Use the generated demo organisation (written "
                                         "once into the user cache, or KV_DEMO_ORG_DIR).")]
ProjectsConfigOpt = Annotated[Path | None, typer.Option("--projects-config", help="YAML/JSON projects config "
                                                        "(several projects and stacks).")]
ShardIndexOpt = Annotated[int | None, typer.Option("--shard-index", help="This pod's shard (Indexed Job).")]
ShardCountOpt = Annotated[int | None, typer.Option("--shard-count", help="Number of shards.")]

ProjectOpt = Annotated[list[int] | None, typer.Option("--project", help="Only this project id (repeatable).")]
KindOpt = Annotated[list[Kind] | None, typer.Option("--kind", help="Only this kind (repeatable).")]
BucketOpt = Annotated[list[str] | None, typer.Option("--bucket", help="Only this bucket id (repeatable).")]
ComponentOpt = Annotated[list[str] | None, typer.Option("--component", help="Only this component id.")]
StageOpt = Annotated[list[str] | None, typer.Option("--stage", help="Only the in or out stage.")]
BranchOpt = Annotated[list[str] | None, typer.Option(
    "--branch", help="Also dev-branch objects of this branch id or name (repeatable; `all`: every branch). "
    "Without it only production is shown.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, max=MAX_RESULTS, help="Number of results.")]
ModeOpt = Annotated[Mode, typer.Option("--mode", help="hybrid (dense + BM25, fused), dense or sparse.")]
BoostOpt = Annotated[bool, typer.Option("--boost", help="Favour recently changed and much-used tables "
                                        "(a Qdrant formula query; off by default).")]


def search_filters(project: list[int] | None, kind: list[Kind] | None, bucket: list[str] | None,
                   component: list[str] | None, stage: list[str] | None,
                   branch: list[str] | None = None) -> SearchFilters:
    """The filter options of `search` and `similar` as store filters."""
    from keboola_vectorizer.store.base import SearchFilters

    for value in stage or []:
        if value not in STAGES:
            raise ConfigError(f"unknown stage {value!r}", "use --stage in or --stage out")
    return SearchFilters(project_ids=list(project or []), kinds=[k.value for k in kind or []],
                         bucket_ids=list(bucket or []), component_ids=list(component or []),
                         stages=list(stage or []), branches=list(branch or []))


def boost_of(enabled: bool) -> Boost | None:
    from keboola_vectorizer.store.base import Boost

    return Boost() if enabled else None

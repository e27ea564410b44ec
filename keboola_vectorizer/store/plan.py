"""What a query means, written once for both backends: filters, the dense / sparse / hybrid choice
with its fallbacks, prefetch depth, RRF k and weights, and the boost formula; plus the collection
compatibility check and the generation names a rebuild uses.

A backend only translates a `QueryPlan` into its client's request types (store/edge/translate.py,
store/server/translate.py), so the two cannot drift apart on what is asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.types import (
    BOOST_DEFAULTS,
    DENSE_VECTOR,
    SPARSE_VECTOR,
    Boost,
    CollectionMeta,
    QueryVectors,
    RankParams,
    SearchFilters,
    SearchMode,
    SparseVector,
    normalise_datetime,
    payload_selection,
    point_id,
)

# How many candidates each branch of a hybrid query hands to fusion, per result asked for.
PREFETCH_FACTOR = 5
MIN_PREFETCH = 50
# Facets return at most this many values; a field with more is counted by scrolling.
FACET_LIMIT = 100_000

REBUILD_HINT = ("run `keboola-vectorizer index --rebuild` to build it afresh with this run's settings "
                "(the current one stays searchable until the new one is complete), "
                "or select the model it was built with")


# -- filters ------------------------------------------------------------------------------------

# A dev-branch point carries `branch_kind: "dev"`; production points carry no such value.
DEV_BRANCH = ("branch_kind", ("dev",))


@dataclass(frozen=True)
class FilterSpec:
    """Conditions on payload fields (values OR-ed within a field, fields AND-ed), point ids to leave
    out, and the dev-branch scope: None no condition, () production only, values production plus
    the branches with those ids or names (`BRANCH_FIELDS`)."""

    must: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    exclude_points: tuple[str, ...] = ()
    branches: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return not self.must and not self.exclude_points and self.branches is None


def filter_spec(filters: SearchFilters | None, exclude_documents: Sequence[str] = ()) -> FilterSpec:
    must = tuple((key, tuple(values)) for key, values in (filters.by_field() if filters else {}).items())
    scope = filters.branch_scope() if filters is not None else None
    return FilterSpec(must, tuple(point_id(d) for d in exclude_documents),
                      tuple(scope) if scope is not None else None)


# -- queries ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Nearest:
    """Nearest neighbours of one vector in one named vector space."""

    using: str
    vector: list[float] | SparseVector


@dataclass(frozen=True)
class Rrf:
    """Reciprocal rank fusion of a dense and a sparse branch, each `depth` candidates deep."""

    k: int
    weights: tuple[float, float]
    branches: tuple[Nearest, Nearest]
    depth: int


# The boost formula as a small expression tree; each backend maps the nodes onto its own types.
@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Var:
    name: str  # a payload field, or "$score" for the candidate's score


@dataclass(frozen=True)
class ExpDecay:
    """exp decay of a datetime payload field's distance from `target`: 0.5 at `scale_s` seconds."""

    datetime_key: str
    target: str
    scale_s: float
    midpoint: float = 0.5


@dataclass(frozen=True)
class Sum:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Mult:
    factors: tuple[Expr, ...]


@dataclass(frozen=True)
class Div:
    left: Expr
    right: Expr
    by_zero_default: float = 0.0


Expr = Const | Var | ExpDecay | Sum | Mult | Div


@dataclass(frozen=True)
class Formula:
    expression: Expr
    defaults: dict[str, Any] = field(default_factory=lambda: dict(BOOST_DEFAULTS))


def boost_formula(boost: Boost, newest_change: str | None) -> Formula:
    """score * (1 + w_r * recency + w_u * n / (n + 2)); see `Boost` for the terms."""
    reference = normalise_datetime(boost.reference or newest_change)
    recency = ExpDecay("last_changed_at", reference, boost.half_life_days * 86400.0)
    consumers = Var("consumer_count")
    usage = Div(consumers, Sum((consumers, Const(2.0))))
    factor = Sum((Const(1.0), Mult((Const(boost.recency_weight), recency)),
                  Mult((Const(boost.usage_weight), usage))))
    return Formula(Mult((Var("$score"), factor)))


@dataclass(frozen=True)
class QueryPlan:
    """One Qdrant query: `query` over the filtered points; with `rescore`, the best `depth` of them
    are scored again by the formula and the best `limit` returned."""

    query: Nearest | Rrf
    filter: FilterSpec
    limit: int
    depth: int
    payload: bool | list[str] = True
    rescore: Formula | None = None


def _dense(vectors: QueryVectors) -> list[float] | None:
    return [float(x) for x in vectors.dense] if vectors.dense is not None else None


def _sparse(vectors: QueryVectors) -> SparseVector | None:
    vector = vectors.sparse
    if vector is None or not vector.indices:
        return None  # no known terms: nothing can match lexically
    return SparseVector(list(vector.indices), [float(v) for v in vector.values])


def plan_query(vectors: QueryVectors, mode: SearchMode, filters: SearchFilters | None, limit: int,
               params: RankParams | None = None, fields: Sequence[str] | None = None,
               newest_change: str | None = None) -> QueryPlan | None:
    """The plan for a search, or None when nothing can match (a sparse query without known terms).

    Hybrid falls back to dense without sparse terms and to sparse without a dense vector."""
    params = params or RankParams()
    if mode not in ("dense", "sparse", "hybrid"):
        raise ValueError(f"unknown search mode {mode!r}")
    dense, sparse = _dense(vectors), _sparse(vectors)
    depth = max(params.prefetch or max(MIN_PREFETCH, limit * PREFETCH_FACTOR), limit)
    query: Nearest | Rrf
    if mode == "dense" or (mode == "hybrid" and sparse is None):
        if dense is None:
            raise StoreError("a dense query needs a dense vector", "embed the query first")
        query = Nearest(DENSE_VECTOR, dense)
    elif mode == "sparse" or dense is None:
        if sparse is None:
            return None
        query = Nearest(SPARSE_VECTOR, sparse)
    else:
        query = Rrf(params.rrf_k, (params.dense_weight, params.sparse_weight),
                    (Nearest(DENSE_VECTOR, dense), Nearest(SPARSE_VECTOR, sparse)), depth)
    rescore = boost_formula(params.boost, newest_change) if params.boost is not None else None
    return QueryPlan(query, filter_spec(filters), limit, depth, payload_selection(fields), rescore)


def plan_recommend(document_id: str, dense: Sequence[float], filters: SearchFilters | None,
                   limit: int) -> QueryPlan:
    """Points nearest a stored one's dense vector, the point itself left out.

    One strategy for both backends: the nearest neighbours of the stored vector (Qdrant's recommend
    with a single positive example ranks the same, and Edge's recommend takes vectors, not ids)."""
    return QueryPlan(Nearest(DENSE_VECTOR, [float(x) for x in dense]),
                     filter_spec(filters, exclude_documents=[document_id]), limit, limit)


# -- collections --------------------------------------------------------------------------------

_COMPARED = ("embedder_id", "dimension", "distance", "sparse", "schema_version")


def check_compatible(existing: CollectionMeta, wanted: CollectionMeta, collection: str,
                     location: str) -> None:
    """StoreError naming `--rebuild` unless the collection was built with the same settings."""
    differences = [f"{name} {getattr(existing, name)!r} -> {getattr(wanted, name)!r}"
                   for name in _COMPARED if getattr(existing, name) != getattr(wanted, name)]
    if differences:
        raise StoreError(f"collection '{collection}' at {location} was built with {existing.describe()}, "
                         f"not {wanted.describe()} ({'; '.join(differences)})", REBUILD_HINT)


def refuse_empty_promote(collection: str, staging: str, points: int) -> None:
    if points == 0:
        raise StoreError(f"refusing to switch '{collection}' to the empty rebuild '{staging}'",
                         "the rebuild indexed nothing; check that the snapshot or projects hold data "
                         "and the run's errors, then rerun with --rebuild")


def generation_stamp() -> str:
    """The UTC timestamp that names a rebuild's generation (Edge) or physical collection (server);
    names sort by age."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")

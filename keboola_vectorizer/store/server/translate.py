"""A `QueryPlan` (store/plan.py) and its filters in qdrant-client's models, and its answers back as
`Hit`s: the only place the server backend builds query objects."""

from __future__ import annotations

from typing import Any

from qdrant_client import models

from keboola_vectorizer.store import plan as p
from keboola_vectorizer.store.types import BRANCH_FIELDS, DENSE_VECTOR, SPARSE_VECTOR, Hit, SparseVector


def server_filter(spec: p.FilterSpec) -> models.Filter | None:
    """MatchAny per field (values OR-ed), all fields AND-ed; excluded points and (outside the
    branch scope) dev-branch points as must_not."""
    if spec.empty:
        return None
    must: list[models.Condition] = [models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))
                                    for key, values in spec.must]
    must_not: list[models.Condition] = ([models.HasIdCondition(has_id=list(spec.exclude_points))]
                                        if spec.exclude_points else [])
    should: list[models.Condition] = []
    dev = models.FieldCondition(key=p.DEV_BRANCH[0], match=models.MatchAny(any=list(p.DEV_BRANCH[1])))
    if spec.branches == ():
        must_not.append(dev)
    elif spec.branches:
        should = [models.Filter(must_not=[dev]),
                  *(models.FieldCondition(key=key, match=models.MatchAny(any=list(spec.branches)))
                    for key in BRANCH_FIELDS)]
    if not must and not must_not and not should:
        return None
    return models.Filter(must=must or None, should=should or None, must_not=must_not or None)


def server_sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _vector(nearest: p.Nearest) -> Any:
    return server_sparse(nearest.vector) if isinstance(nearest.vector, SparseVector) else nearest.vector


def _expression(node: p.Expr) -> Any:
    if isinstance(node, p.Const):
        return node.value
    if isinstance(node, p.Var):
        return node.name
    if isinstance(node, p.ExpDecay):
        return models.ExpDecayExpression(exp_decay=models.DecayParamsExpression(
            x=models.DatetimeKeyExpression(datetime_key=node.datetime_key),
            target=models.DatetimeExpression(datetime=node.target), scale=node.scale_s, midpoint=node.midpoint))
    if isinstance(node, p.Sum):
        return models.SumExpression(sum=[_expression(term) for term in node.terms])
    if isinstance(node, p.Mult):
        return models.MultExpression(mult=[_expression(factor) for factor in node.factors])
    return models.DivExpression(div=models.DivParams(left=_expression(node.left), right=_expression(node.right),
                                                     by_zero_default=node.by_zero_default))


def query_points_args(plan: p.QueryPlan) -> dict[str, Any]:
    """Keyword arguments of `QdrantClient.query_points` for the plan (collection and consistency aside)."""
    flt = server_filter(plan.filter)
    prefetch: list[models.Prefetch] | None = None
    query: Any
    using: str | None = None
    if isinstance(plan.query, p.Rrf):
        fusion = plan.query
        prefetch = [models.Prefetch(query=_vector(branch), using=branch.using, filter=flt, limit=fusion.depth)
                    for branch in fusion.branches]
        query = models.RrfQuery(rrf=models.Rrf(k=fusion.k, weights=list(fusion.weights)))
    else:
        query, using = _vector(plan.query), plan.query.using
    if plan.rescore is not None:
        # The boost rescores the candidates of the plain (or fused) query with a formula.
        prefetch = [models.Prefetch(prefetch=prefetch, query=query, using=using, filter=flt, limit=plan.depth)]
        query = models.FormulaQuery(formula=_expression(plan.rescore.expression),
                                    defaults=dict(plan.rescore.defaults))
        using = None
    return {"prefetch": prefetch, "query": query, "using": using, "query_filter": flt, "limit": plan.limit,
            "with_payload": plan.payload}


def server_hit(point: Any, with_vectors: bool = False) -> Hit:
    payload = dict(point.payload or {})
    if with_vectors:
        vectors = point.vector or {}
        out: dict[str, Any] = {}
        if isinstance(vectors, dict):
            if DENSE_VECTOR in vectors:
                out[DENSE_VECTOR] = list(vectors[DENSE_VECTOR])
            sparse = vectors.get(SPARSE_VECTOR)
            if sparse is not None:
                out[SPARSE_VECTOR] = {"indices": list(sparse.indices), "values": list(sparse.values)}
        payload["_vectors"] = out
    document_id = str(payload.get("document_id", point.id))
    return Hit(document_id=document_id, score=float(getattr(point, "score", 0.0) or 0.0), payload=payload)

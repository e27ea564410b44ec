"""A `QueryPlan` (store/plan.py) and its filters in qdrant-edge's request types, and Edge's answers
back in plain Python: the only place the Edge backend builds query objects."""

from __future__ import annotations

from typing import Any

from qdrant_edge import (
    DecayKind,
    Expression,
    FieldCondition,
    Filter,
    Fusion,
    HasIdCondition,
    MatchAny,
    Prefetch,
    Query,
    QueryRequest,
)
from qdrant_edge import Formula as EdgeFormula
from qdrant_edge import SparseVector as EdgeSparse

from keboola_vectorizer.store import plan as p
from keboola_vectorizer.store.types import BRANCH_FIELDS, DENSE_VECTOR, Hit, SparseVector


def edge_filter(spec: p.FilterSpec) -> Filter | None:
    if spec.empty:
        return None
    must = [FieldCondition(key=key, match=MatchAny(list(values))) for key, values in spec.must]
    must_not: list[Any] = [HasIdCondition(set(spec.exclude_points))] if spec.exclude_points else []
    should: list[Any] = []
    dev = FieldCondition(key=p.DEV_BRANCH[0], match=MatchAny(list(p.DEV_BRANCH[1])))
    if spec.branches == ():
        must_not.append(dev)
    elif spec.branches:
        should = [Filter(must_not=[dev]),
                  *(FieldCondition(key=key, match=MatchAny(list(spec.branches))) for key in BRANCH_FIELDS)]
    if not must and not must_not and not should:
        return None
    return Filter(must=must or None, should=should or None, must_not=must_not or None)


def edge_sparse(vector: SparseVector) -> EdgeSparse:
    return EdgeSparse(list(vector.indices), list(vector.values))


def _nearest(nearest: p.Nearest) -> Any:
    vector = edge_sparse(nearest.vector) if isinstance(nearest.vector, SparseVector) else nearest.vector
    return Query.Nearest(vector, using=nearest.using)


def _expression(node: p.Expr) -> Any:
    if isinstance(node, p.Const):
        return Expression.Constant(node.value)
    if isinstance(node, p.Var):
        return Expression.Variable(node.name)
    if isinstance(node, p.ExpDecay):
        return Expression.Decay(DecayKind.Exp, Expression.DatetimeKey(node.datetime_key),
                                Expression.Datetime(node.target), midpoint=node.midpoint, scale=node.scale_s)
    if isinstance(node, p.Sum):
        return Expression.Sum([_expression(term) for term in node.terms])
    if isinstance(node, p.Mult):
        return Expression.Mult([_expression(factor) for factor in node.factors])
    return Expression.Div(_expression(node.left), _expression(node.right), by_zero_default=node.by_zero_default)


def edge_request(plan: p.QueryPlan) -> QueryRequest:
    flt = edge_filter(plan.filter)
    branches: list[Prefetch] | None = None
    query: Any
    if isinstance(plan.query, p.Rrf):
        fusion = plan.query
        query = Fusion.Rrf(k=fusion.k, weights=list(fusion.weights))
        branches = [Prefetch(limit=fusion.depth, query=_nearest(branch), filter=flt) for branch in fusion.branches]
    else:
        query = _nearest(plan.query)
    if plan.rescore is not None:
        # The boost rescores the candidates of the plain (or fused) query with a formula.
        candidates = (Prefetch(limit=plan.depth, query=query, filter=flt, prefetches=branches) if branches
                      else Prefetch(limit=plan.depth, query=query, filter=flt))
        formula = EdgeFormula(_expression(plan.rescore.expression), defaults=dict(plan.rescore.defaults))
        return QueryRequest(limit=plan.limit, prefetches=[candidates], query=formula, filter=flt,
                            with_payload=plan.payload)
    if branches:
        return QueryRequest(limit=plan.limit, prefetches=branches, query=query, filter=flt,
                            with_payload=plan.payload)
    return QueryRequest(limit=plan.limit, query=query, filter=flt, with_payload=plan.payload)


def plain_vectors(vector: Any) -> dict[str, Any]:
    """Vectors as plain JSON, the same shape the server backend returns."""
    named = vector if isinstance(vector, dict) else {DENSE_VECTOR: vector}
    plain: dict[str, Any] = {}
    for name, value in named.items():
        if hasattr(value, "indices"):
            plain[name] = {"indices": list(value.indices), "values": [float(v) for v in value.values]}
        else:
            plain[name] = [float(x) for x in value]
    return plain


def plain_value(value: Any) -> Any:
    """Edge returns facet values wrapped (Int(9001)); unwrap to plain Python."""
    if isinstance(value, (str, int, float, bool)):
        return value
    for attr in ("value", "_0"):
        if hasattr(value, attr):
            return getattr(value, attr)
    text = str(value)
    inner = text[text.find("(") + 1 : text.rfind(")")] if "(" in text else text
    try:
        return int(inner)
    except ValueError:
        return inner.strip("\"'")


def edge_hit(point: Any, with_vectors: bool = False) -> Hit:
    payload = dict(point.payload or {})
    if with_vectors:
        payload["_vectors"] = plain_vectors(point.vector)
    return Hit(str(payload.get("document_id", point.id)), float(getattr(point, "score", 0.0) or 0.0), payload)

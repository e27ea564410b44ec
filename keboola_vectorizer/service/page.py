"""The page at `/`: server-rendered search, facets, object view with columns and a lineage picture.

Everything works with JavaScript off: the search box is a GET form, facets are links, and the
address (`/?q=…&kind=…`) is the search, so it can be shared. static/app.js only refreshes the
results as you type, from `/partials/results`, the same template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from keboola_vectorizer.errors import VectorizerError
from keboola_vectorizer.search_result import MAX_RESULTS
from keboola_vectorizer.service.api import search_query
from keboola_vectorizer.service.auth import COOKIE, COOKIE_MAX_AGE, key_matches, presented_key
from keboola_vectorizer.service.backend import Backend, SearchQuery
from keboola_vectorizer.service.lineage_svg import lineage_svg

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
FILTERS = ("kind", "project", "bucket", "component", "stage")
FACET_TITLES = {"kind": "Kind", "project": "Project", "component": "Component", "stage": "Stage"}
KIND_LABELS = {"configuration_row": "configuration row"}
MAX_COLUMNS_SHOWN = 300
router = APIRouter(include_in_schema=False)


def _params(request: Request) -> dict[str, list[str]]:
    """The search in the address: q, filters (repeatable), mode, limit."""
    out: dict[str, list[str]] = {}
    for name in ("q", *FILTERS, "mode", "limit"):
        values = [v for v in request.query_params.getlist(name) if v.strip()]
        if values:
            out[name] = values
    return out


def _href(params: dict[str, list[str]], path: str = "/") -> str:
    pairs = [(name, value) for name, values in params.items() for value in values]
    return path + ("?" + urlencode(pairs) if pairs else "")


def _toggle(params: dict[str, list[str]], name: str, value: str) -> dict[str, list[str]]:
    values = list(params.get(name, []))
    values = [v for v in values if v != value] if value in values else [*values, value]
    return {**{k: v for k, v in params.items() if k != name}, **({name: values} if values else {})}


def _view(result: dict[str, Any], params: dict[str, list[str]]) -> dict[str, Any]:
    where = result.get("table_id") or result.get("component_id") or result.get("bucket_id") or ""
    return {**result, "kind_label": KIND_LABELS.get(result.get("kind", ""), result.get("kind", "")),
            "where": where if where != result.get("name") else "",
            "view_href": _href(params, "/object/" + quote(str(result["id"]), safe="/"))}


def _authorised(request: Request) -> bool:
    return key_matches(request.app.state.api_key, presented_key(request))


def _key_page(request: Request, wrong: bool = False) -> Response:
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return TEMPLATES.TemplateResponse(request, "key.html", {"next": next_url, "wrong": wrong},
                                      status_code=401)


async def _status(service: Backend) -> dict[str, Any] | None:
    try:
        return await service.status()
    except VectorizerError:
        return None


async def _results_context(request: Request) -> dict[str, Any]:
    service: Backend = request.app.state.backend
    params = _params(request)
    q = (params.get("q") or [""])[0]
    hidden = {k: v for k, v in params.items() if k != "q"}
    context: dict[str, Any] = {"q": q, "hidden": hidden, "results": [], "facets": [], "active": [],
                               "took_ms": 0.0, "cached": False, "error": None}
    if not q:
        context["status"] = await _status(service)
        context["autofocus"] = True
        return context
    try:
        limit = min(int((params.get("limit") or ["20"])[0]), MAX_RESULTS)
        query = search_query(q, params.get("kind"), params.get("project"), params.get("bucket"),
                             params.get("component"), params.get("stage"),
                             (params.get("mode") or ["hybrid"])[0], limit)
        answer = await service.search(query)
    except ValueError:
        context["error"] = "limit must be a number — remove it from the address"
        return context
    except VectorizerError as error:
        context["error"] = error.one_line()
        return context
    context.update(results=[_view(r, params) for r in answer.results], took_ms=answer.took_ms,
                   cached=answer.cached, pool=answer.pool)
    labels = {"project": answer.project_names}
    for facet, counts in answer.facets.items():
        chosen = params.get(facet, [])
        items = [{"value": value, "count": count, "on": value in chosen,
                  "label": labels.get(facet, {}).get(value, KIND_LABELS.get(value, value)),
                  "href": _href(_toggle(params, facet, value))} for value, count in counts.items()]
        if len(items) > 1 or chosen:
            context["facets"].append({"name": facet, "title": FACET_TITLES[facet], "items": items})
    for name in FILTERS:
        for value in params.get(name, []):
            label = labels.get(name, {}).get(value, value)
            context["active"].append({"label": f"{name}: {label}", "href": _href(_toggle(params, name, value))})
    return context


@router.get("/", response_class=HTMLResponse)
async def index_page(request: Request) -> Response:
    if not _authorised(request):
        return _key_page(request)
    context = await _results_context(request)
    return TEMPLATES.TemplateResponse(request, "index.html", context)


@router.get("/partials/results", response_class=HTMLResponse)
async def results_partial(request: Request) -> Response:
    if not _authorised(request):
        return HTMLResponse("", status_code=401)
    return TEMPLATES.TemplateResponse(request, "results.html", await _results_context(request))


@router.get("/key", response_class=HTMLResponse)
async def key_form(request: Request, next: str = "/") -> Response:
    return TEMPLATES.TemplateResponse(request, "key.html", {"next": _safe_next(next), "wrong": False})


def _safe_next(next_url: str) -> str:
    """Only a path on this site (no `//host` or scheme): the form must not redirect elsewhere."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"


@router.post("/key")
async def key_submit(request: Request) -> Response:
    # An urlencoded form of two fields: parsed here rather than pulling in a multipart parser.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key, next = (form.get("key") or [""])[0], (form.get("next") or ["/"])[0]
    if not key_matches(request.app.state.api_key, key.strip()):
        return TEMPLATES.TemplateResponse(request, "key.html", {"next": _safe_next(next), "wrong": True},
                                          status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, key.strip(), max_age=COOKIE_MAX_AGE, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def _columns(obj: dict[str, Any], column_docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {d["payload"].get("name"): d["payload"] for d in column_docs if d.get("found")}
    keys = set(obj.get("primary_key") or [])
    return [{"name": name, "type": (by_name.get(name) or {}).get("data_type") or "",
             "description": (by_name.get(name) or {}).get("description") or "", "pk": name in keys}
            for name in (obj.get("columns") or [])[:MAX_COLUMNS_SHOWN]]


def _facts(obj: dict[str, Any]) -> list[tuple[str, str]]:
    fields = (("table id", "table_id"), ("bucket", "bucket_id"), ("stage", "stage"),
              ("component", "component_name"), ("component id", "component_id"), ("type", "component_type"),
              ("data type", "data_type"), ("rows", "rows_count"), ("last changed", "last_changed_at"),
              ("reads", "inputs"), ("writes", "outputs"))
    facts = []
    for label, key in fields:
        value = obj.get(key)
        if value not in (None, "", []):
            facts.append((label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return facts


@router.get("/object/{object_id:path}", response_class=HTMLResponse)
async def object_page(request: Request, object_id: str, depth: int = 1) -> Response:
    if not _authorised(request):
        return _key_page(request)
    service: Backend = request.app.state.backend
    params = _params(request)
    depth = min(max(depth, 1), 3)
    try:
        [found] = await service.objects((object_id,))
    except VectorizerError as error:
        return TEMPLATES.TemplateResponse(request, "index.html", {"q": "", "error": error.one_line()},
                                          status_code=503)
    if not found.get("found"):
        return TEMPLATES.TemplateResponse(request, "index.html", {"q": "", "error": found.get("error")},
                                          status_code=404)
    obj = {"id": found["id"], **found["payload"]}
    obj["kind_label"] = KIND_LABELS.get(obj.get("kind", ""), obj.get("kind", ""))
    context: dict[str, Any] = {"obj": obj, "q": (params.get("q") or [""])[0],
                               "hidden": {k: v for k, v in params.items() if k != "q"},
                               "back": _href(params) if params.get("q") else None, "depth": depth,
                               "facts": _facts(obj), "columns": [], "lineage_svg": None, "similar": []}
    context["depth_href"] = lambda d: _href({**params, "depth": [str(d)]}, "/object/" + quote(obj["id"], safe="/"))
    if obj.get("kind") == "table" and obj.get("columns"):
        ids = tuple(f"{obj['project_id']}/column/{obj['table_id']}.{c}"
                    for c in obj["columns"][:MAX_COLUMNS_SHOWN])
        context["columns"] = _columns(obj, await service.objects(ids))
    if obj.get("kind") in ("table", "column", "configuration", "configuration_row"):
        try:
            lineage = await service.lineage(obj["id"], None, "both", depth)
            context.update(lineage_svg=lineage_svg(lineage), upstream_count=len(lineage["upstream"]),
                           downstream_count=len(lineage["downstream"]))
        except VectorizerError as error:
            context["lineage_error"] = f"No lineage: {error.one_line()}"
    try:
        similar = await service.similar(obj["id"], SearchQuery(obj["id"], limit=6))
        context["similar"] = [_view(r, params) for r in similar.get("results", [])]
    except VectorizerError:
        pass  # similar objects are a nicety: the object itself is still worth showing
    return TEMPLATES.TemplateResponse(request, "object.html", context)

"""Upstream and downstream lineage read from the index: no snapshot or API needed.

Every table point carries `produced_by` / `consumed_by` (configuration document ids from output and
input mappings) and every configuration point its `inputs` / `outputs` (table ids), so lineage is a
walk over stored payloads with `store.retrieve`, one round trip per step.

Upstream of a table: the configurations that write it, then the tables those read, and so on.
Downstream: the configurations that read it, then the tables those write. `depth` counts
configuration steps: depth 1 is the table's own producers and consumers with their tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer import ids
from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.store.base import Hit, SearchFilters, VectorStore, every_branch

DIRECTIONS = ("upstream", "downstream")


@dataclass
class LineageNode:
    id: str
    kind: str
    name: str
    project_id: int | None
    url: str = ""
    depth: int = 0
    via: str | None = None
    indexed: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "project_id": self.project_id,
                "url": self.url, "depth": self.depth, "via": self.via, "indexed": self.indexed}


@dataclass
class LineageResult:
    root: LineageNode
    upstream: list[LineageNode] = field(default_factory=list)
    downstream: list[LineageNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"root": self.root.to_json(), "upstream": [n.to_json() for n in self.upstream],
                "downstream": [n.to_json() for n in self.downstream]}


def _node(hit: Hit, depth: int = 0, via: str | None = None) -> LineageNode:
    p = hit.payload
    project = p.get("project_id")
    return LineageNode(hit.document_id, str(p.get("kind", "")), str(p.get("name", "")),
                       int(project) if project is not None else None, str(p.get("url", "")), depth, via)


def _missing(doc_id: str, depth: int, via: str | None) -> LineageNode:
    """A node the index does not hold (a table from another project or one not yet created)."""
    parsed = ids.parse(doc_id)
    name = parsed.key.rsplit(".", 1)[-1] if parsed.kind == "table" else parsed.key
    return LineageNode(doc_id, parsed.kind, name, parsed.project_id, "", depth, via, False)


def resolve(store: VectorStore, ref: str, project_id: int | None = None,
            branches: list[str] | None = None) -> Hit:
    """The stored point for a document id (`9001/table/out.c-crm.company`) or a table id
    (`out.c-crm.company`, with `project_id` when several projects hold such a table)."""
    found = store.retrieve([ref])
    if found:
        return found[0]
    if project_id is not None:
        found = store.retrieve([ids.table_id(project_id, ref)])
        if found:
            return found[0]
    filters = SearchFilters(table_ids=[ref], kinds=["table"], branches=list(branches or []),
                            project_ids=[project_id] if project_id is not None else [])
    matches = list(store.scroll(filters))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        unheld = _unheld_table(store, ref, project_id)
        if unheld is not None:
            return unheld
        raise ConfigError(f"no table or document {ref!r} in the index",
                          "pass a document id from `keboola-vectorizer search --json` or a table id "
                          "like out.c-crm.company")
    projects = sorted({str(m.payload.get("project_id")) for m in matches})
    raise ConfigError(f"table {ref!r} exists in several projects ({', '.join(projects)})",
                      "pick one with --project")


def _unheld_table(store: VectorStore, table_id: str, project_id: int | None) -> Hit | None:
    """A table that configurations write or read but Storage does not hold yet (a transformation's
    first output, say): a stand-in root whose lineage comes from those configurations."""
    filters = every_branch(kinds=["configuration"], project_ids=[project_id] if project_id is not None else [])
    producers: list[str] = []
    consumers: list[str] = []
    projects: set[Any] = set()
    for hit in store.scroll(filters):
        if table_id in (hit.payload.get("outputs") or []):
            producers.append(hit.document_id)
            projects.add(hit.payload.get("project_id"))
        if table_id in (hit.payload.get("inputs") or []):
            consumers.append(hit.document_id)
            projects.add(hit.payload.get("project_id"))
    if len(projects) != 1:
        return None
    project = next(iter(projects))
    return Hit(ids.table_id(project, table_id), 0.0, {
        "kind": "table", "project_id": project, "table_id": table_id, "name": table_id.rsplit(".", 1)[-1],
        "produced_by": producers, "consumed_by": consumers})


def _config_url(doc_id: str, known_url: str) -> str:
    """UI link of a configuration the index does not hold, from a link of the same project."""
    project, kind, rest = (doc_id.split("/", 2) + ["", ""])[:3]
    base = known_url.split("/admin/projects/")[0]
    if kind != "configuration" or not base or f"/admin/projects/{project}/" not in known_url or "/" not in rest:
        return ""
    return f"{base}/admin/projects/{project}/components/{rest}"


class _ConfigIndex:
    """Per project, which configurations write and read each table, from the configurations' own
    `outputs` / `inputs`: the way to step on from a table the index does not hold (an extractor's
    output, say), whose point carries no `produced_by`."""

    def __init__(self, store: VectorStore) -> None:
        self._store = store
        self._projects: dict[Any, dict[str, dict[str, list[str]]]] = {}

    def neighbours(self, project_id: Any, table_id: str, direction: str) -> list[str]:
        if project_id not in self._projects:
            maps: dict[str, dict[str, list[str]]] = {"upstream": {}, "downstream": {}}
            try:
                filters = every_branch(project_ids=[int(project_id)], kinds=["configuration"])
            except (TypeError, ValueError):
                return []
            for hit in self._store.scroll(filters):
                for key, direction_key in (("outputs", "upstream"), ("inputs", "downstream")):
                    for table in hit.payload.get(key) or []:
                        maps[direction_key].setdefault(str(table), []).append(hit.document_id)
            self._projects[project_id] = maps
        return self._projects[project_id][direction].get(table_id, [])


def _next_ids(hit: Hit | None, doc_id: str, direction: str, configs: _ConfigIndex) -> list[str]:
    """Document ids one step away: configurations of a table, tables of a configuration."""
    parsed = ids.parse(doc_id)
    project_id, kind, rest = parsed.project, parsed.kind, parsed.key
    p = hit.payload if hit is not None else {}
    if kind == "table":
        key = "produced_by" if direction == "upstream" else "consumed_by"
        found = [str(d) for d in p.get(key) or []]
        # An alias mirrors its source table: the source is upstream of it, aliases downstream.
        mirrored = ([p["alias_of"]] if p.get("alias_of") else []) if direction == "upstream" else list(
            p.get("aliases") or [])
        found += [ids.table_id(p.get("project_id", project_id), str(t)) for t in mirrored]
        return list(dict.fromkeys(found + configs.neighbours(project_id, rest, direction)))
    if kind in ("configuration", "configuration_row"):
        key = "inputs" if direction == "upstream" else "outputs"
        return [ids.table_id(p.get("project_id", project_id), str(t)) for t in p.get(key) or []]
    return []


def walk(store: VectorStore, root: Hit, direction: str, depth: int = 1) -> list[LineageNode]:
    """Breadth-first walk `depth` configuration steps away from `root`, each node once."""
    if direction not in DIRECTIONS:
        raise ValueError(direction)
    if root.payload.get("kind") == "column":
        parent = store.retrieve([ids.table_id(root.payload.get("project_id"), root.payload["table_id"])])
        root = parent[0] if parent else root
    from_config = root.payload.get("kind") in ("configuration", "configuration_row")
    # Table -> configuration -> table is one configuration step (two hops); a configuration root
    # starts half-way, so its own tables are step 1.
    hops = 2 * depth - (1 if from_config else 0)
    configs = _ConfigIndex(store)
    seen = {root.document_id}
    nodes: list[LineageNode] = []
    frontier: list[tuple[str, Hit | None]] = [(root.document_id, root)]
    for hop in range(1, hops + 1):
        pending: dict[str, str] = {}
        for doc_id, hit in frontier:
            for next_id in _next_ids(hit, doc_id, direction, configs):
                if next_id not in seen and next_id not in pending:
                    pending[next_id] = doc_id
        if not pending:
            break
        found = {h.document_id: h for h in store.retrieve(list(pending))}
        step = hop // 2 + 1 if from_config else (hop + 1) // 2
        frontier = []
        for doc_id, via in pending.items():
            seen.add(doc_id)
            hit = found.get(doc_id)
            if hit is not None:
                nodes.append(_node(hit, step, via))
            else:
                node = _missing(doc_id, step, via)
                node.url = _config_url(doc_id, str(root.payload.get("url", "")))
                nodes.append(node)
            frontier.append((doc_id, hit))
    return nodes


def lineage(store: VectorStore, ref: str, *, project_id: int | None = None, depth: int = 1,
            branches: list[str] | None = None) -> LineageResult:
    """Upstream and downstream of a table (or configuration), `depth` configuration steps each way."""
    if depth < 1:
        raise ConfigError(f"--depth {depth} is below 1", "pass --depth 1 or more")
    root = resolve(store, ref, project_id, branches)
    return LineageResult(_node(root), walk(store, root, "upstream", depth), walk(store, root, "downstream", depth))

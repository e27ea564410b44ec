"""The lineage picture: upstream and downstream of an object drawn as an inline SVG graph.

Columns are steps away from the root (upstream to the left, downstream to the right), nodes stack in
their column, and each edge runs in the direction data flows. Drawn on the server, so the page needs
no script or CDN library and the picture is the same with JavaScript off.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

NODE_W, NODE_H = 200, 44
COL_GAP, ROW_GAP, PAD = 56, 14, 12
MAX_PER_COLUMN = 12  # a column beyond this shows "+N more" rather than a picture no one can read
KIND_CLASS = {"table": "n-table", "configuration": "n-config", "configuration_row": "n-config",
              "bucket": "n-bucket", "column": "n-table"}


def _levels(root_id: str, nodes: list[dict[str, Any]]) -> dict[str, int]:
    """Hops from the root along each node's `via` (the node it was reached from)."""
    level = {root_id: 0}
    pending = list(nodes)
    for _ in range(len(nodes) + 1):
        rest = []
        for node in pending:
            via = node.get("via") or root_id
            if via in level:
                level[node["id"]] = level[via] + 1
            else:
                rest.append(node)
        if len(rest) == len(pending):
            break
        pending = rest
    for node in pending:  # an unreachable `via`: put it next to the root rather than drop it
        level[node["id"]] = 1
    return level


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _node_svg(node: dict[str, Any], x: int, y: int, root: bool = False) -> str:
    kind = str(node.get("kind") or "")
    css = "node " + KIND_CLASS.get(kind, "n-other") + (" root" if root else "") + \
        ("" if node.get("indexed", True) else " missing")
    title = escape(f"{node.get('name')} ({kind}) {node.get('id')}")
    body = (f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x + 10}" y="{y + 18}" class="name">{escape(_clip(str(node.get("name") or ""), 24))}</text>'
            f'<text x="{x + 10}" y="{y + 34}" class="kind">{escape(kind.replace("_", " "))}'
            f'{"" if node.get("indexed", True) else " · not indexed"}</text>')
    if node.get("indexed", True) and not root:
        href = "/object/" + quote(str(node["id"]), safe="/")
        return f'<a href="{escape(href)}" class="{css}"><title>{title}</title>{body}</a>'
    return f'<g class="{css}"><title>{title}</title>{body}</g>'


def lineage_svg(lineage: dict[str, Any]) -> str:
    root = lineage["root"]
    up = [n for n in lineage.get("upstream") or []]
    down = [n for n in lineage.get("downstream") or []]
    up_level, down_level = _levels(root["id"], up), _levels(root["id"], down)
    columns: dict[int, list[dict[str, Any]]] = {0: [root]}
    for node in up:
        columns.setdefault(-up_level[node["id"]], []).append(node)
    for node in down:
        columns.setdefault(down_level[node["id"]], []).append(node)
    first = min(columns)
    rows = min(max(len(c) for c in columns.values()), MAX_PER_COLUMN + 1)
    width = PAD * 2 + (max(columns) - first + 1) * (NODE_W + COL_GAP) - COL_GAP
    height = PAD * 2 + rows * (NODE_H + ROW_GAP) - ROW_GAP
    place: dict[str, tuple[int, int]] = {}
    parts: list[str] = []
    for column, nodes in sorted(columns.items()):
        x = PAD + (column - first) * (NODE_W + COL_GAP)
        shown = nodes[:MAX_PER_COLUMN]
        top = PAD + (height - 2 * PAD - len(shown) * (NODE_H + ROW_GAP) + ROW_GAP) // 2
        for row, node in enumerate(shown):
            y = top + row * (NODE_H + ROW_GAP)
            place[node["id"]] = (x, y)
            parts.append(_node_svg(node, x, y, root=column == 0))
        if len(nodes) > MAX_PER_COLUMN:
            y = top + MAX_PER_COLUMN * (NODE_H + ROW_GAP)
            parts.append(f'<text x="{x + 10}" y="{y + 20}" class="more">+{len(nodes) - MAX_PER_COLUMN} more</text>')
    edges: list[str] = []
    for nodes, upstream in ((up, True), (down, False)):
        for node in nodes:
            via = node.get("via") or root["id"]
            if node["id"] not in place or via not in place:
                continue
            # Data flows from upstream to downstream: upstream edges point at the node nearer the root.
            src, dst = (place[node["id"]], place[via]) if upstream else (place[via], place[node["id"]])
            x1, y1 = src[0] + NODE_W, src[1] + NODE_H // 2
            x2, y2 = dst[0], dst[1] + NODE_H // 2
            mid = (x1 + x2) // 2
            edges.append(f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 2},{y2}" marker-end="url(#arrow)"/>')
    label = escape(f"Lineage of {root.get('name')}: {len(up)} upstream, {len(down)} downstream")
    return (f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{label}">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
            f'<g class="edges">{"".join(edges)}</g>{"".join(parts)}</svg>')

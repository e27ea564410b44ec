"""Evidence one candidate lends another: a project's other matches, a flow's tasks, a table's lineage.

- Joint evidence: a question about orders and refunds is usually answered by the project holding
  both, not by a lone similar table elsewhere; each candidate gains in proportion to how much of the
  candidates' total score its project's best few hold.
- Flows by what they run: a flow lends itself a share of the best candidate among its tasks.
- Lineage: "what produces / reads <table>" ranks the configurations the index records as writing /
  reading the table that the question names (the anchor), right above the anchor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from keboola_vectorizer.store.base import Hit

PROJECT_TOP = 3  # a project's evidence is its best few candidates (a big project must not win by size)


def project_evidence(ranked: list[Hit], weight: float, notes: dict[str, dict]) -> None:
    """Scale each candidate by 1 + weight * (its project's share of the best projects' mass)."""
    if weight <= 0 or not ranked:
        return
    best: dict[object, list[float]] = defaultdict(list)
    for hit in sorted(ranked, key=lambda h: (-h.score, h.document_id)):
        scores = best[hit.payload.get("project_id")]
        if len(scores) < PROJECT_TOP:
            scores.append(hit.score)
    mass = {project: sum(scores) for project, scores in best.items()}
    top = max(mass.values())
    if top <= 0:
        return
    for hit in ranked:
        factor = 1.0 + weight * mass[hit.payload.get("project_id")] / top
        hit.score *= factor
        notes.setdefault(hit.document_id, {})["project_evidence"] = round(factor, 4)


def _lift(anchor_scores: Iterable[float], named_top: float) -> float:
    """How much the anchors' answers are raised so that the best anchor's lead every named object,
    keeping the anchors' own order."""
    best = max(anchor_scores, default=0.0)
    return max(1.0, named_top / best) if best > 0 else 1.0


def flow_credit(ranked: list[Hit], share: float, anchors: list[Hit], lead: float,
                notes: dict[str, dict], named_top: float = 0.0) -> None:
    """A flow gains `share` of the best-scoring candidate it runs; a flow that runs a configuration the
    question names (an anchor) goes right above that configuration and above every other object the
    question names (`named_top`: the best of their scores; a table called like the task it comes from
    is what the question is about, not what it asks for)."""
    by_id = {hit.document_id: hit.score for hit in ranked}
    anchor_score = {hit.document_id: hit.score for hit in anchors}
    lift = _lift(anchor_score.values(), named_top)
    for hit in ranked:
        tasks = hit.payload.get("flow_tasks") or []
        named = [(anchor_score[t], t) for t in tasks if t in anchor_score]
        if named:
            score, task = max(named)
            hit.score = max(hit.score, score * lift * lead)
            notes.setdefault(hit.document_id, {}).update(runs=task, anchor=task)
            continue
        runs = [(by_id[t], t) for t in tasks if t in by_id]
        if runs:
            score, task = max(runs)
            hit.score += share * score
            notes.setdefault(hit.document_id, {})["runs"] = task


def lineage_answers(ranked: list[Hit], anchors: list[Hit], direction: str, lead: float,
                    fetch: Callable[[list[str]], list[Hit]], notes: dict[str, dict],
                    named_top: float = 0.0) -> list[Hit]:
    """Put the anchor tables' producers (upstream) or consumers (downstream) right above them, and
    above every other object the question names (`named_top`: the best of their scores)."""
    field = "produced_by" if direction == "upstream" else "consumed_by"
    wanted: dict[str, Hit] = {}
    for anchor in anchors:
        for doc_id in anchor.payload.get(field) or []:
            wanted.setdefault(str(doc_id), anchor)
    if not wanted:
        return ranked
    present = {hit.document_id: hit for hit in ranked}
    missing = sorted(d for d in wanted if d not in present)
    for hit in fetch(missing) if missing else []:
        hit.score = 0.0
        present[hit.document_id] = hit
        ranked.append(hit)
    top_own = max((present[d].score for d in wanted if d in present), default=0.0) or 1.0
    lift = _lift([anchor.score for anchor in anchors], named_top)
    verb = "produces" if direction == "upstream" else "reads"
    for doc_id, anchor in wanted.items():
        hit = present.get(doc_id)
        if hit is None:
            continue
        # Above the anchor and what else the question names, in their anchors' order, then their own.
        hit.score = anchor.score * lift * lead * (1.0 + 0.01 * hit.score / top_own)
        notes.setdefault(doc_id, {}).update(lineage=f"{verb} {anchor.payload.get('table_id') or anchor.document_id}",
                                            anchor=anchor.document_id)
    return ranked

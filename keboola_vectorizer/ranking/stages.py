"""The ranking stages after fusion and part credit, in order, with what each did for `--explain`.

Weights are round values chosen for what they mean, then checked on every question set (none was
fitted to one): an object in a project the question names counts double; an exact name adds the top
candidate's whole score (nine tenths of it when the names differ by a kind word only), and an object
called exactly what the question says then leads every object named less exactly; a matching kind is
a 30% prior; a flow gains a third of the best task it runs; a project's joint evidence scales by at
most 1.25; lineage answers, and a flow running the task a question names, go just above their anchor
and above whatever else the question names (it is the subject, they are the answer).
After them (search.py), a table keeps its best column right behind it and its further columns step
behind every other candidate: they repeat what the table shows, and a question that needs several
tables needs the next table more than a third column of the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keboola_vectorizer.ranking import evidence
from keboola_vectorizer.ranking.identity import EXACT, EXACT_BUT_KIND, IdentityMatcher, intent_outside_names
from keboola_vectorizer.ranking.intent import Intent, detect
from keboola_vectorizer.ranking.scope import Scope, project_scope
from keboola_vectorizer.store.base import Hit

PARTS = ("column", "configuration_row")
EXACT_LEAD = 1.01  # how far an exact name is put above the best object named less exactly


@dataclass(frozen=True)
class Ranking:
    part_decay: float = 0.0  # further matching columns add part_decay**i of theirs to the table (0: best only)
    whole_leads: bool = True  # a table is never behind its own best column
    identity_weight: float = 1.0  # x strength x the top score
    kind_prior: float = 0.3
    other_kind_identity: float = 0.5  # share of the identity boost for a named object of a kind not asked for
    flow_share: float = 0.33
    project_weight: float = 0.25
    scope_weight: float = 1.0  # an object in a project the question names counts 1 + this much
    lineage_lead: float = 1.05  # lineage answers score this much above their anchor table
    exact_leads: bool = True  # an exact name leads every object named less exactly
    anchor_min: float = 0.5  # identity strength a table needs to anchor a lineage question
    # a part ranked below its own whole moves behind every other candidate, unless its kind was asked
    # for or it is among the first `shadow_keep` such parts of that whole
    shadowed_parts_last: bool = True
    shadow_keep: int = 1


BASELINE = Ranking(part_decay=0.0, whole_leads=False, identity_weight=0.0, kind_prior=0.0, flow_share=0.0,
                   project_weight=0.0, scope_weight=0.0, lineage_lead=0.0, exact_leads=False,
                   shadowed_parts_last=False)


def _named(ranked: list[Hit], identity: dict[str, float], minimum: float,
           wanted: Callable[[Hit], bool]) -> list[Hit]:
    """The `wanted` objects the question names most clearly (several when several share the name)."""
    found = [h for h in ranked if wanted(h) and identity.get(h.document_id, 0.0) >= minimum]
    strongest = max((identity[h.document_id] for h in found), default=None)
    return [h for h in found if identity[h.document_id] == strongest]


def _named_top(ranked: list[Hit], identity: dict[str, float], minimum: float, *, flows: bool = True) -> float:
    """The best score among objects the question names (flows among them unless `flows` is False):
    what a flow or lineage answer about them must rank above."""
    return max((h.score for h in ranked if identity.get(h.document_id, 0.0) >= minimum
                and (flows or h.payload.get("component_type") != "flow")), default=0.0)


def _exact_lead(ranked: list[Hit], identity: dict[str, float], subjects: set[str]) -> None:
    """An object called exactly what the question says leads every object named less exactly ("month
    end close" is the flow of that name, not the scheduler "Schedule: Month end close", nor a table
    whose name shares most of the words), unless it is a subject of another kind than asked."""
    exact = [h for h in ranked if identity.get(h.document_id) == EXACT and h.document_id not in subjects]
    others = [h.score for h in ranked if 0 < identity.get(h.document_id, 0.0) < EXACT]
    lowest = min((h.score for h in exact), default=0.0)
    if not others or lowest <= 0:
        return
    lift = max(others) / lowest
    if lift > 1.0:
        for hit in exact:
            hit.score *= lift * EXACT_LEAD


def read_question(query: str, payloads: list[dict[str, Any]]) -> tuple[Scope, Intent]:
    """The projects a question names (where to look) and the kind and lineage it asks for, read
    among the candidates' names: kind words inside a name the question holds whole, or inside a named
    project's name ("... in shopify rfm analysis with streamlit"), are no intent."""
    scope = project_scope(query, payloads)
    intent = intent_outside_names(query, payloads)
    if scope.projects:
        intent = intent.shared_with(intent_outside_names(scope.asked, payloads))
    return scope, intent


def apply(query: str, ranked: list[Hit], ranking: Ranking, fetch: Callable[[list[str]], list[Hit]],
          notes: dict[str, dict], intent: Intent | None = None,
          scope: Scope | None = None) -> tuple[list[Hit], Intent]:
    """Scope, identity, kind prior, flow credit, joint evidence, lineage; best first (`intent`: the
    query's, when the caller has detected it already; `scope`: the projects the question names,
    ranking/scope.py)."""
    intent = intent or detect(query)
    if not ranked:
        return ranked, intent
    scoped = scope is not None and bool(scope.projects)
    if scoped and ranking.scope_weight > 0:
        for hit in ranked:
            if hit.payload.get("project_id") in scope.projects:
                hit.score *= 1.0 + ranking.scope_weight
                notes.setdefault(hit.document_id, {})["project_named"] = True
    top = max(h.score for h in ranked)
    identity: dict[str, float] = {}
    subjects: set[str] = set()  # named objects of a kind not asked for
    if ranking.identity_weight > 0:
        matcher = IdentityMatcher(query, [h.payload for h in ranked])
        # Within a named project, the rest of the question names the answer ("deals in crm hubspot":
        # "deals"); an object whose whole name is the project's words is the scope, not the answer.
        inside = IdentityMatcher(scope.asked, [h.payload for h in ranked]) if scoped else None
        for hit in ranked:
            # A column or row named in the question is evidence for its table or configuration (which
            # leads its parts), not the answer, unless the question asks for that kind of part.
            if hit.payload.get("kind") in PARTS and hit.payload.get("kind") not in intent.kinds:
                continue
            strength = matcher.strength(hit.payload)
            if inside is not None:
                strength = max(inside.strength(hit.payload),
                               0.0 if matcher.name_within(hit.payload, scope.words) else strength)
            if hit.payload.get("kind") == "bucket" and strength < (EXACT_BUT_KIND if "bucket" in intent.kinds
                                                                   else EXACT):
                # A bucket named inside a longer question ("... of the student club", "the extractor for
                # shopify") is its scope, not its answer: the bucket ranks first only when it is all the
                # question says, "bucket" aside.
                continue
            if strength > 0:
                identity[hit.document_id] = strength
                hit.score += ranking.identity_weight * strength * top
                if intent.kinds and not intent.matches(hit.payload):
                    subjects.add(hit.document_id)
                notes.setdefault(hit.document_id, {})["identity"] = round(strength, 3)
        if ranking.exact_leads:
            _exact_lead(ranked, identity, subjects)
    if ranking.kind_prior > 0 and intent.kinds:
        for hit in ranked:
            matched = intent.matches(hit.payload)
            if matched:
                hit.score *= 1.0 + ranking.kind_prior
                notes.setdefault(hit.document_id, {})["kind_intent"] = matched[0]
    if ranking.flow_share > 0 and "flow" in intent.kinds:
        anchors = _named(ranked, identity, ranking.anchor_min, lambda h: h.payload.get("kind") == "configuration"
                         and h.payload.get("component_type") != "flow")
        evidence.flow_credit(ranked, ranking.flow_share, anchors, ranking.lineage_lead, notes,
                             _named_top(ranked, identity, ranking.anchor_min, flows=False))
    evidence.project_evidence(ranked, ranking.project_weight, notes)
    if ranking.lineage_lead > 0 and intent.lineage:
        # The anchor is what the question names most clearly: a table named less clearly than
        # something else ("... checker of the sms campaign" names the checker) is not the subject.
        anchor_min = max([ranking.anchor_min, *identity.values()])
        anchors = _named(ranked, identity, anchor_min, lambda h: h.payload.get("kind") == "table")
        if anchors:
            ranked = evidence.lineage_answers(ranked, anchors, intent.lineage, ranking.lineage_lead, fetch, notes,
                                              _named_top(ranked, identity, ranking.anchor_min))
    # Named, but not of the kind asked for ("the stripe charges row", "which flow runs X"): the name
    # is the answer's subject, and it keeps only a share of its boost once the stages above have
    # placed the answers they find through it (which lead its full score).
    for hit in ranked:
        note = notes.get(hit.document_id, {})
        if hit.document_id not in subjects or "anchor" in note:
            continue  # an anchored answer: "what produces the X table" asks for it, "table" aside
        boost = ranking.identity_weight * identity[hit.document_id] * top
        hit.score -= (1.0 - ranking.other_kind_identity) * boost * note.get("project_evidence", 1.0)
    for note in notes.values():
        if "anchor" in note:  # an answer found through what the question names is as sure as that name
            note["anchor_identity"] = identity.get(note["anchor"], 0.0)
    return sorted(ranked, key=lambda h: (-h.score, h.document_id)), intent

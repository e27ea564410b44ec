#!/usr/bin/env python3
"""Templated questions generated from any snapshot's documents, for the question classes that hand-written
sets rarely cover: an object's exact name, its name with the kind it is, what produces / reads a table
(from the lineage the documents record), which flow runs a configuration, a name several projects
hold, asked of one project by its name, and a name with humps typed without them ("hubspot").

The questions come from the snapshot itself (its names, its lineage), so no set's questions or names
live in the repository, and the same templates test any organisation. Names are typed the way people
type them: identifiers split into lower-case words ("bdm_orders" -> "bdm orders").

    python scripts/synth_questions.py ../shared/sample-org --out /tmp/synth.jsonl [--per-class 40] [--varied]

`--varied` asks each question in one of several phrasings of its class (seeded), the way different
people ask it ("what feeds X", "where does X come from", "what uses X", "is X in a flow"), so a
ranking that knows one phrasing per class shows it; without it every class keeps its first phrasing.

Each line is the eval format plus `class` (exact name, kind named, lineage upstream, lineage
downstream, flow, project named, name typed whole), which `eval` and `eval_all.py --groups` break the figures down by.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents

KIND_WORD = {"transformation": "transformation", "extractor": "extractor", "writer": "writer",
             "application": "app", "flow": "flow"}


def typed(name: str) -> str:
    """How a person types an identifier: words, lower case, no brackets or codes."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return " ".join(re.findall(r"[A-Za-z0-9]+", spaced)).lower()


def typed_whole(name: str) -> str:
    """The name typed without its humps ("HubSpot CRM" -> "hubspot crm"), as brands are typed."""
    return " ".join(re.findall(r"[A-Za-z0-9]+", name)).lower()


# Each class's phrasings; the first is the one the unvaried set uses. {name}: the object, {kind}: its
# kind word, {project}: a project's name, {task}: what a flow runs.
PHRASINGS: dict[str, tuple[str, ...]] = {
    "kind named": ("the {kind} {name}", "{name} {kind}", "find the {kind} called {name}", "is there a {kind} {name}"),
    "lineage upstream": ("what produces the {name} table", "where does {name} come from", "what feeds {name}",
                         "which configuration writes {name}", "how is the {name} table built",
                         "what creates {name}"),
    "lineage downstream": ("which configurations read {name}", "what uses the {name} table", "who consumes {name}",
                           "what depends on {name}", "where is {name} used", "which jobs read from {name}"),
    "project named": ("{name} in {project}", "{name} from the {project} project", "{project} {name}",
                      "the {name} of {project}"),
    "flow": ("which flow runs {task}", "what orchestration runs {task}", "the flow that runs {task}",
             "which flow schedules {task}", "is {task} scheduled in a flow"),
}


def generate(docs: list[tuple[str, dict[str, Any]]], per_class: int, seed: int,
             varied: bool = False) -> list[dict[str, Any]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for doc_id, payload in docs:
        if payload.get("kind") in ("table", "configuration"):
            by_name[typed(str(payload.get("name") or ""))].append(doc_id)
    names = {doc_id: typed(str(p.get("name") or "")) for doc_id, p in docs}
    payloads = dict(docs)

    def union(same: list[str], key: str) -> list[str]:
        """Several tables may share a name: the question then asks about all of them."""
        return sorted({str(d) for doc in same for d in payloads[doc].get(key) or []})

    def ask(cls: str, **fields: str) -> str:
        """The question in its class's phrasing: one per name, so rows that later merge (the flows
        running one task) ask the same question."""
        templates = PHRASINGS[cls]
        key = "|".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return (random.Random(f"{seed}|{cls}|{key}").choice(templates) if varied else templates[0]).format(**fields)

    classes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc_id, payload in docs:
        kind, name = payload.get("kind"), names[doc_id]
        if kind not in ("table", "configuration") or len(name) < 3:
            continue
        same = by_name[name]
        classes["exact name"].append({"query": name, "relevant": same})
        whole = typed_whole(str(payload.get("name") or ""))
        if whole != name:
            classes["name typed whole"].append({"query": whole, "relevant": same})
        word = "table" if kind == "table" else KIND_WORD.get(str(payload.get("component_type")))
        if word:
            classes["kind named"].append({"query": ask("kind named", kind=word, name=name), "relevant": same})
        if kind == "table" and payload.get("produced_by"):
            classes["lineage upstream"].append({"query": ask("lineage upstream", name=name),
                                                "relevant": union(same, "produced_by")})
        if kind == "table" and payload.get("consumed_by"):
            classes["lineage downstream"].append({"query": ask("lineage downstream", name=name),
                                                  "relevant": union(same, "consumed_by")})
        in_project = [d for d in same if payloads[d].get("project_id") == payload.get("project_id")]
        if len(in_project) < len(same) and payload.get("project_name"):
            project = typed(str(payload["project_name"]))
            classes["project named"].append({"query": ask("project named", name=name, project=project),
                                             "relevant": in_project})
        for task in payload.get("flow_tasks") or []:
            if names.get(task):
                classes["flow"].append({"query": ask("flow", task=names[task]), "relevant": [doc_id],
                                        "task": task})
    # Tasks of one name in several projects make one question: every flow running one of them answers it.
    flows_of: dict[str, list[str]] = defaultdict(list)
    for row in classes["flow"]:
        flows_of[row["query"]].append(row["relevant"][0])
    classes["flow"] = [{"query": row["query"], "relevant": sorted(set(flows_of[row["query"]]))}
                       for row in classes["flow"]]
    rng = random.Random(seed)
    out = []
    for name, rows in sorted(classes.items()):
        unique = list({row["query"]: row for row in rows}.values())
        rng.shuffle(unique)
        out.extend({**row, "class": name} for row in unique[:per_class])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--varied", action="store_true", help="several phrasings per class (see above)")
    args = parser.parse_args()
    docs = [(d.id, d.payload) for d in iter_documents(Snapshot(args.snapshot))]
    rows = generate(docs, args.per_class, args.seed, args.varied)
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["class"]] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()

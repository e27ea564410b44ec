"""scripts/synth_questions.py: the templated question classes, built from a snapshot's own names."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "synth_questions.py"


def _generate() -> Any:
    spec = importlib.util.spec_from_file_location("synth_questions", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def _docs() -> list[tuple[str, dict[str, Any]]]:
    def table(project: int, name: str, **more: Any) -> tuple[str, dict[str, Any]]:
        return (f"{project}/table/out.c-x.{name}", {"kind": "table", "name": name, "project_id": project,
                                                    "project_name": f"Team {project} Reporting", **more})

    def config(project: int, cid: str, name: str, component_type: str, **more: Any) -> tuple[str, dict[str, Any]]:
        return (f"{project}/configuration/c/{cid}", {"kind": "configuration", "name": name, "project_id": project,
                                                     "project_name": f"Team {project} Reporting",
                                                     "component_type": component_type, **more})

    return [
        table(1, "dailySales", produced_by=["1/configuration/c/10"]),
        table(2, "dailySales"),
        config(1, "10", "Daily snapshots", "transformation"),
        config(2, "20", "Daily snapshots", "transformation"),
        config(1, "11", "Nightly", "flow", flow_tasks=["1/configuration/c/10"]),
        config(2, "21", "Hourly", "flow", flow_tasks=["2/configuration/c/20"]),
    ]


def test_every_class_comes_from_the_snapshots_names() -> None:
    rows = _generate()(_docs(), per_class=40, seed=7)
    by_class: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_class.setdefault(row["class"], []).append(row)
    assert {row["query"] for row in by_class["exact name"]} == {"daily sales", "daily snapshots", "nightly", "hourly"}
    assert {row["query"] for row in by_class["name typed whole"]} == {"dailysales"}
    # One flow question for the two tasks called alike, answered by both flows.
    assert by_class["flow"] == [{"query": "which flow runs daily snapshots", "class": "flow",
                                 "relevant": ["1/configuration/c/11", "2/configuration/c/21"]}]
    # A name two projects hold, asked of one by its project's name, is answered there only.
    asked = {row["query"]: row["relevant"] for row in by_class["project named"]}
    assert asked["daily sales in team 1 reporting"] == ["1/table/out.c-x.dailySales"]
    assert asked["daily snapshots in team 2 reporting"] == ["2/configuration/c/20"]
    assert by_class["lineage upstream"][0]["relevant"] == ["1/configuration/c/10"]


def test_varied_phrasings_keep_each_class_and_its_answers() -> None:
    generate = _generate()
    plain = generate(_docs(), per_class=40, seed=7)
    varied = generate(_docs(), per_class=40, seed=7, varied=True)
    assert varied == generate(_docs(), per_class=40, seed=7, varied=True)  # seeded: the same set each time
    assert [r["relevant"] for r in varied if r["class"] == "exact name"] == \
        [r["relevant"] for r in plain if r["class"] == "exact name"]
    # The two flows running tasks of one name still make one question, answered by both.
    flows = [r for r in varied if r["class"] == "flow"]
    assert len(flows) == 1 and flows[0]["relevant"] == ["1/configuration/c/11", "2/configuration/c/21"]
    assert "daily snapshots" in flows[0]["query"]
    # Across many names every phrasing of a class turns up.
    many = [(f"1/table/out.c-x.t{i}", {"kind": "table", "name": f"table{i}", "project_id": 1,
                                        "produced_by": ["1/configuration/c/10"]}) for i in range(60)]
    module_phrasings = {"what produces the table{} table", "where does table{} come from"}
    asked = {r["query"] for r in generate(many, per_class=60, seed=7, varied=True) if r["class"] == "lineage upstream"}
    for phrasing in module_phrasings:
        assert any(q.startswith(phrasing.split("{}")[0]) for q in asked), phrasing

"""The service's parts on their own: result cache, facets and matched-on, the lineage picture."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from keboola_vectorizer.service.cache import ResultCache
from keboola_vectorizer.service.facets import facet_counts, matched_on, stage_of
from keboola_vectorizer.service.lineage_svg import MAX_PER_COLUMN, lineage_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_cache_hits_shares_in_flight_and_forgets_old_generations() -> None:
    calls: list[str] = []

    async def scenario() -> None:
        cache = ResultCache(max_entries=2)

        async def compute(value: str) -> str:
            calls.append(value)
            await asyncio.sleep(0.01)
            return value

        together = await asyncio.gather(*(cache.get_or_compute("g1", "k", lambda: compute("a")) for _ in range(5)))
        assert [v for v, _ in together] == ["a"] * 5 and calls == ["a"]
        assert cache.stats.shared == 4
        assert await cache.get_or_compute("g1", "k", lambda: compute("b")) == ("a", True)
        assert await cache.get_or_compute("g2", "k", lambda: compute("c")) == ("c", False)
        assert cache.stats.invalidations == 1 and len(cache) == 1
        for key in ("x", "y", "z"):
            await cache.get_or_compute("g2", key, lambda key=key: compute(key))
        assert len(cache) == 2  # bounded

        async def fail() -> str:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await cache.get_or_compute("g2", "bad", fail)
        assert await cache.get_or_compute("g2", "bad", lambda: compute("ok")) == ("ok", False)

    asyncio.run(scenario())


def test_facets_count_each_field_most_frequent_first() -> None:
    results = [
        {"kind": "table", "project_id": 1, "bucket_id": "in.c-a", "component_id": None},
        {"kind": "column", "project_id": 1, "bucket_id": "out.c-b", "table_id": "out.c-b.t"},
        {"kind": "column", "project_id": 2, "bucket_id": "out.c-b"},
        {"kind": "configuration", "project_id": 2, "component_id": "keboola.python-transformation-v2"},
    ]
    facets = facet_counts(results)
    assert list(facets["kind"].items()) == [("column", 2), ("configuration", 1), ("table", 1)]
    assert facets["project"] == {"1": 2, "2": 2}
    assert facets["stage"] == {"out": 2, "in": 1}
    assert facets["component"] == {"keboola.python-transformation-v2": 1}
    assert stage_of({"stage": "in", "bucket_id": "out.c-x"}) == "in"


def test_matched_on_words_or_meaning() -> None:
    result = {"name": "monthly_churn", "id": "1/table/out.c-crm.monthly_churn", "snippet": "Customers lost"}
    assert matched_on(result, "monthly churn of customers") == ["name: monthly, churn", "snippet: customers"]
    assert matched_on(result, "who left us") == ["meaning"]
    assert matched_on({**result, "matched_on": ["dense"]}, "x") == ["dense"]


def _lineage(up: int, down: int) -> dict:
    root = {"id": "1/table/out.c-s.t", "kind": "table", "name": "t <&> \"q\"", "indexed": True}
    config = {"id": "1/configuration/c/9", "kind": "configuration", "name": "builder", "via": root["id"]}
    upstream = [config] + [{"id": f"1/table/in.c-s.u{i}", "kind": "table", "name": f"u{i}", "via": config["id"],
                            "indexed": i % 2 == 0} for i in range(up)]
    downstream = [{"id": f"1/configuration/w/{i}", "kind": "configuration", "name": f"w{i}", "via": root["id"]}
                  for i in range(down)]
    return {"root": root, "upstream": upstream, "downstream": downstream}


def test_lineage_svg_places_steps_in_columns_and_links_nodes() -> None:
    svg = lineage_svg(_lineage(up=2, down=1))
    tree = ET.fromstring(svg)  # well-formed XML, names escaped
    rects = {}
    for group in tree.iter():
        title = group.find(f"{SVG}title")
        rect = group.find(f"{SVG}rect")
        if title is not None and rect is not None:
            rects[title.text.rsplit(" ", 1)[-1]] = float(rect.get("x"))
    root_x, config_x = rects["1/table/out.c-s.t"], rects["1/configuration/c/9"]
    assert rects["1/table/in.c-s.u0"] < config_x < root_x < rects["1/configuration/w/0"]
    links = [a.get("href") for a in tree.iter(f"{SVG}a")]
    assert "/object/1/configuration/c/9" in links and "/object/1/table/in.c-s.u0" in links
    assert "/object/1/table/in.c-s.u1" not in links  # not in the index: drawn, not linked
    assert len(list(tree.iter(f"{SVG}path"))) == 1 + 4  # arrow marker + one edge per node
    assert "t &lt;&amp;&gt;" in svg


def test_lineage_svg_caps_a_crowded_column() -> None:
    svg = lineage_svg(_lineage(up=MAX_PER_COLUMN + 5, down=0))
    assert "+5 more" in svg

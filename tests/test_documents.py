"""Documents of the sample organisation: ids, text people can search, payload, lineage, no secrets."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from typing import Any

import pytest

from keboola_vectorizer.keboola.documents import (
    KINDS,
    Document,
    code_notes,
    project_documents,
    split_identifier,
    table_refs,
)
from keboola_vectorizer.keboola.lineage import build_lineage, default_bucket
from keboola_vectorizer.keboola.snapshot import Snapshot
from tests.conftest import SAMPLE_ORG

EXPECTED = json.loads((SAMPLE_ORG / "expected-counts.json").read_text())["projects"]
KIND_KEYS = {"bucket": "buckets", "table": "tables", "column": "columns", "configuration": "configurations",
             "configuration_row": "configuration_rows"}


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    docs: dict[str, Document] = {}
    for project in Snapshot(SAMPLE_ORG).iter_projects():
        for doc in project_documents(project):
            assert doc.id not in docs, f"duplicate id {doc.id}"
            docs[doc.id] = doc
    return docs


def _plant_secrets(node: Any, planted: list[str]) -> None:
    """Give every `#`-prefixed key (empty in the sample) a distinctive value, in place."""
    if isinstance(node, dict):
        for key in list(node):
            if str(key).startswith("#"):
                node[key] = f"KBC::ProjectSecure::planted{len(planted):04d}secret"
                planted.append(node[key])
            else:
                _plant_secrets(node[key], planted)
    elif isinstance(node, list):
        for item in node:
            _plant_secrets(item, planted)


@pytest.mark.parametrize(("identifier", "words"), [
    ("customer_churn_monthly", "customer churn monthly"),
    ("customerChurnMonthly", "customer churn monthly"),
    ("out.c-crm", "out crm"),
    ("out.c-crm.customer_churnMonthly", "out crm customer churn monthly"),
    ("keboola.ex-google-ads", "keboola ex google ads"),
    ("GA4EventTable", "ga4 event table"),
    ("IS_FIRST_PURCHASE", "is first purchase"),
    ("AdGroupPerformance_Daily_Report", "ad group performance daily report"),
])
def test_split_identifier(identifier: str, words: str) -> None:
    assert split_identifier(identifier).lower() == words


def test_counts_per_project_match_expected(documents: dict[str, Document]) -> None:
    counts: dict[str, Counter[str]] = {}
    for doc in documents.values():
        counts.setdefault(doc.id.split("/", 1)[0], Counter())[doc.kind] += 1
    assert set(counts) == set(EXPECTED)
    for project_id, expected in EXPECTED.items():
        assert {KIND_KEYS[k]: v for k, v in counts[project_id].items()} == {
            k: v for k, v in expected.items() if v}, project_id
    assert len(documents) == 2141


def test_ids_follow_the_design(documents: dict[str, Document]) -> None:
    pattern = re.compile(r"^\d+/(bucket|table|column|configuration|configuration_row)/.+$")
    for doc in documents.values():
        assert pattern.match(doc.id), doc.id
        assert doc.kind in KINDS and doc.id.split("/")[1] == doc.kind
        assert doc.payload["kind"] == doc.kind
        assert isinstance(doc.payload["project_id"], int)
        assert doc.payload["url"].startswith(f"https://connection.keboola.com/admin/projects/{doc.payload['project_id']}/")
        assert len(doc.content_hash) == 64
    assert "9001/configuration/keboola.snowflake-transformation/64903320" in documents
    assert "9001/column/out.c-marketing-tr-9001ad.online_marketing.clicks" in documents


def test_table_text_has_words_columns_types_and_lineage(documents: dict[str, Document]) -> None:
    doc = documents["9001/table/out.c-marketing-tr-9001ad.online_marketing"]
    first_line = doc.text.splitlines()[0]
    assert "online_marketing (online marketing)" in first_line
    assert "Advertising Platforms" in first_line and "out stage" in first_line
    assert "clicks INTEGER" in doc.text and "costs_cpc (costs cpc) FLOAT" in doc.text
    assert "Produced by: Transformation [IN-ADSPLATFORMS] /9001ad (Snowflake Transformation)" in doc.text
    assert "Used by:" in doc.text and "Data Apps" in doc.text
    # The name and comments of the SQL code that builds the table are part of its text.
    assert "Created in code: Bing Ads Unification (final facebook marketing table)" in doc.text
    payload = doc.payload
    assert payload["bucket_id"] == "out.c-marketing-tr-9001ad" and payload["stage"] == "out"
    assert payload["table_id"] == "out.c-marketing-tr-9001ad.online_marketing"
    assert payload["produced_by"] == ["9001/configuration/keboola.snowflake-transformation/64903320"]
    assert "9001/configuration/keboola.data-apps/187298172" in payload["consumed_by"]
    assert payload["consumer_count"] == len(payload["consumed_by"])
    assert "clicks" in payload["columns"]


def test_column_text_and_payload(documents: dict[str, Document]) -> None:
    doc = documents["9009/column/out.c-ecommerce-wr-9009ke.bdm_orders.IS_FIRST_PURCHASE"]
    assert doc.text.startswith("Column IS_FIRST_PURCHASE (is first purchase) of table bdm_orders (bdm orders)")
    assert doc.payload["table_id"] == "out.c-ecommerce-wr-9009ke.bdm_orders"
    assert doc.payload["name"] == "IS_FIRST_PURCHASE"


def test_configuration_text_names_component_type_and_tables(documents: dict[str, Document]) -> None:
    transformation = documents["9001/configuration/keboola.snowflake-transformation/64903320"]
    lines = transformation.text.splitlines()
    assert lines[0].startswith("Transformation configuration Transformation [IN-ADSPLATFORMS] /9001ad of "
                               "component Snowflake Transformation (keboola snowflake transformation)")
    assert any(line.startswith("Description: The extracted data is transformed") for line in lines)
    writes = next(line for line in lines if line.startswith("Writes tables:"))
    assert "online_marketing (online marketing)" in writes and "bucket out.c-marketing-tr-9001ad" in writes
    assert "Code:" in transformation.text and "CREATE" in transformation.text.upper()
    assert transformation.payload["component_type"] == "transformation"
    assert "out.c-marketing-tr-9001ad.online_marketing" in transformation.payload["outputs"]
    extractor = documents["9001/configuration/leochan.ex-linkedin/216623202"]
    assert extractor.text.startswith("Data source (extractor) configuration")
    writer = documents["9008/configuration/keboola.wr-db-mssql-v2/256689164"]
    assert writer.text.startswith("Data destination (writer) configuration")
    assert "promo_deliveries (promo deliveries)" in writer.text
    flows = [d for d in documents.values() if d.payload.get("component_type") == "flow"]
    assert flows and all(d.text.startswith("Flow (orchestration) configuration") for d in flows)
    assert any("Phase " in d.text for d in flows)


def test_configuration_row_points_at_its_configuration(documents: dict[str, Document]) -> None:
    rows = [d for d in documents.values() if d.kind == "configuration_row"]
    assert len(rows) == 300
    for row in rows:
        assert row.payload["parent_id"] in documents
        assert row.id.startswith(row.payload["parent_id"].replace("/configuration/", "/configuration_row/") + "/")


def test_code_is_trimmed(documents: dict[str, Document]) -> None:
    longest = max(len(d.text) for d in documents.values())
    assert longest <= 12000


def test_no_secret_parameter_value_in_any_text() -> None:
    planted: list[str] = []
    for project in Snapshot(SAMPLE_ORG).iter_projects():
        project = copy.deepcopy(project)
        _plant_secrets(project.components, planted)
        for doc in project_documents(project):
            blob = doc.text + json.dumps(doc.payload)
            assert "planted" not in blob and "ProjectSecure" not in blob, doc.id
    assert len(planted) > 20, "the sample organisation has #-encrypted parameters to check against"


def test_lineage_produced_and_consumed_by_match_mappings() -> None:
    project = next(p for p in Snapshot(SAMPLE_ORG).iter_projects() if p.id == 9006)
    lineage = build_lineage(project.id, project.components, project.tables)
    deals = "in.c-crm-tr-9006ke.deals"
    assert lineage.produced_by[deals], "the deals table has a producer"
    for config_doc in lineage.produced_by[deals]:
        assert deals in lineage.outputs[config_doc]
    for config_doc in lineage.consumed_by[deals]:
        assert deals in lineage.inputs[config_doc]
    # Every consumer / producer named in a table's lineage is a configuration of the project.
    docs = {d.id: d for d in project_documents(project)}
    for doc in docs.values():
        for config_doc in doc.payload.get("produced_by", []) + doc.payload.get("consumed_by", []):
            assert config_doc.startswith("9006/configuration/")


def test_default_bucket_gives_extractor_outputs() -> None:
    project = next(p for p in Snapshot(SAMPLE_ORG).iter_projects() if p.id == 9001)
    lineage = build_lineage(project.id, project.components, project.tables)
    assert default_bucket("keboola.ex-google-ads", "162346262") == "in.c-keboola-ex-google-ads-162346262"
    campaign = "in.c-keboola-ex-google-ads-162346262.campaign"
    assert lineage.produced_by[campaign] == ["9001/configuration/keboola.ex-google-ads/162346262"]
    assert "9001/configuration/keboola.snowflake-transformation/64903320" in lineage.consumed_by[campaign]


def test_table_refs_and_code_notes() -> None:
    assert table_refs(["out.c-a.first_table", "out.c-a.b", "in.c-x.y"]) == (
        "first_table (first table), b (bucket out.c-a); y (bucket in.c-x)")
    body = {"parameters": {"blocks": [{"name": "Phase 1", "codes": [
        {"name": "Orders", "script": ["-- orders with their first purchase flag\nCREATE TABLE \"orders\" AS SELECT 1;",
                                      "CREATE TABLE \"other\" AS SELECT 2;"]},
        {"name": "Unrelated", "script": ["-- nothing\nSELECT 1;"]},
    ]}]}}
    assert code_notes(body, "orders") == "Orders (orders with their first purchase flag)"
    assert code_notes(body, "missing") == ""


def test_hash_changes_with_text_and_payload(documents: dict[str, Document]) -> None:
    hashes = [d.content_hash for d in documents.values()]
    assert len(set(hashes)) == len(hashes)

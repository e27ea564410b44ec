"""Documents of the generated demo organisation: ids, text people can search, payload, lineage, no secrets."""

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
from tests.conftest import DEMO, DEMO_ORG

CRM = DEMO.project("crm").id
PIPELINE = f"{CRM}/configuration/keboola.snowflake-transformation/1049936397"
PIPELINE_TABLE = "out.c-crm_reporting.pipeline_by_stage"
SALES_SHEET = f"{CRM}/configuration/keboola.wr-google-sheets/1056442001"


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    docs: dict[str, Document] = {}
    for project in Snapshot(DEMO_ORG).iter_projects():
        for doc in project_documents(project):
            assert doc.id not in docs, f"duplicate id {doc.id}"
            docs[doc.id] = doc
    return docs


def _plant_secrets(node: Any, planted: list[str]) -> None:
    """Give every `#`-prefixed key a distinctive value, in place."""
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
    ("GA4SessionStats", "ga4 session stats"),
    ("IS_REPEAT_BUYER", "is repeat buyer"),
    ("CampaignSpend_Weekly_Rollup", "campaign spend weekly rollup"),
])
def test_split_identifier(identifier: str, words: str) -> None:
    assert split_identifier(identifier).lower() == words


def test_counts_per_project_match_expected(documents: dict[str, Document]) -> None:
    counts: dict[str, Counter[str]] = {}
    for doc in documents.values():
        counts.setdefault(doc.id.split("/", 1)[0], Counter())[doc.kind] += 1
    expected = DEMO.by_project()
    assert set(counts) == set(expected)
    for project_id, kinds in expected.items():
        assert dict(counts[project_id]) == {k: v for k, v in kinds.items() if v}, project_id
    assert len(documents) == DEMO.documents >= 1500


def test_ids_follow_the_design(documents: dict[str, Document]) -> None:
    pattern = re.compile(r"^\d+/(bucket|table|column|configuration|configuration_row)/.+$")
    for doc in documents.values():
        assert pattern.match(doc.id), doc.id
        assert doc.kind in KINDS and doc.id.split("/")[1] == doc.kind
        assert doc.payload["kind"] == doc.kind
        assert isinstance(doc.payload["project_id"], int)
        stack = DEMO.project(doc.payload["project_id"]).stack_url
        assert doc.payload["url"].startswith(f"{stack}/admin/projects/{doc.payload['project_id']}/")
        assert len(doc.content_hash) == 64
    assert PIPELINE in documents
    assert f"{CRM}/column/{PIPELINE_TABLE}.total_amount" in documents
    hr = DEMO.project("hr")
    assert all(d.payload["url"].startswith(f"{hr.stack_url}/admin/") for d in documents.values()
               if d.payload["project_id"] == hr.id) and "eu-central-1" in hr.stack_url


def test_table_text_has_words_columns_types_and_lineage(documents: dict[str, Document]) -> None:
    doc = documents[f"{CRM}/table/{PIPELINE_TABLE}"]
    first_line = doc.text.splitlines()[0]
    assert "pipeline_by_stage (pipeline by stage)" in first_line
    assert "Sales CRM" in first_line and "out stage" in first_line
    assert "opportunity_count (opportunity count) INTEGER" in doc.text
    assert "total_amount (total amount) NUMERIC" in doc.text
    assert "Produced by: Pipeline by stage (Snowflake SQL)" in doc.text
    assert "Used by: Sales weekly sheet (Google Sheets)" in doc.text
    # The name and comments of the SQL code that builds the table are part of its text.
    assert "Created in code: Pipeline by stage (open pipeline grouped by stage and industry)" in doc.text
    payload = doc.payload
    assert payload["bucket_id"] == "out.c-crm_reporting" and payload["stage"] == "out"
    assert payload["table_id"] == PIPELINE_TABLE
    assert payload["produced_by"] == [PIPELINE]
    assert payload["consumed_by"] == [SALES_SHEET]
    assert payload["consumer_count"] == len(payload["consumed_by"])
    assert "total_amount" in payload["columns"]


def test_column_text_and_payload(documents: dict[str, Document]) -> None:
    billing = DEMO.project("billing").id
    doc = documents[f"{billing}/column/out.c-finance.MRR_BY_PLAN.TOTAL_MRR"]
    assert doc.text.startswith("Column TOTAL_MRR (total mrr) of table MRR_BY_PLAN (mrr by plan)")
    assert doc.payload["table_id"] == "out.c-finance.MRR_BY_PLAN"
    assert doc.payload["name"] == "TOTAL_MRR"
    described = documents[f"{CRM}/column/in.c-salesforce.Opportunity.StageName"]
    assert "Description: Sales stage from Prospecting to Closed Won or Closed Lost." in described.text
    assert "Type: VARCHAR (STRING), nullable" in described.text


def test_configuration_text_names_component_type_and_tables(documents: dict[str, Document]) -> None:
    transformation = documents[PIPELINE]
    lines = transformation.text.splitlines()
    assert lines[0].startswith("Transformation configuration Pipeline by stage of "
                               "component Snowflake SQL (keboola snowflake transformation)")
    assert "Description: Open pipeline value per sales stage and industry." in lines
    writes = next(line for line in lines if line.startswith("Writes tables:"))
    assert "pipeline_by_stage (pipeline by stage)" in writes and "bucket out.c-crm_reporting" in writes
    reads = next(line for line in lines if line.startswith("Reads tables:"))
    assert reads == "Reads tables: Opportunity, Account (bucket in.c-salesforce)"
    assert "Code:" in transformation.text and 'CREATE OR REPLACE TABLE "pipeline_by_stage"' in transformation.text
    assert transformation.payload["component_type"] == "transformation"
    assert transformation.payload["outputs"] == [PIPELINE_TABLE]
    extractor = documents[f"{CRM}/configuration/keboola.ex-salesforce-v2/946796494"]
    assert extractor.text.startswith("Data source (extractor) configuration Salesforce production org")
    assert "integration@acme-sales.example" in extractor.text
    writer = documents[SALES_SHEET]
    assert writer.text.startswith("Data destination (writer) configuration")
    assert "pipeline_by_stage (pipeline by stage)" in writer.text
    flows = [d for d in documents.values() if d.payload.get("component_type") == "flow"]
    assert flows and all(d.text.startswith("Flow (orchestration) configuration") for d in flows)
    assert any("Phase " in d.text for d in flows)


def test_configuration_row_points_at_its_configuration(documents: dict[str, Document]) -> None:
    rows = [d for d in documents.values() if d.kind == "configuration_row"]
    assert len(rows) == DEMO.by_kind()["configuration_row"] > 50
    for row in rows:
        assert row.payload["parent_id"] in documents
        assert row.id.startswith(row.payload["parent_id"].replace("/configuration/", "/configuration_row/") + "/")


def test_code_is_trimmed(documents: dict[str, Document]) -> None:
    longest = max(len(d.text) for d in documents.values())
    assert longest <= 12000


def test_no_secret_parameter_value_in_any_text() -> None:
    planted: list[str] = []
    for project in Snapshot(DEMO_ORG).iter_projects():
        project = copy.deepcopy(project)
        _plant_secrets(project.components, planted)
        for doc in project_documents(project):
            blob = doc.text + json.dumps(doc.payload)
            assert "planted" not in blob and "ProjectSecure" not in blob, doc.id
    assert len(planted) > 20, "the demo organisation has #-encrypted parameters to check against"


def test_lineage_produced_and_consumed_by_match_mappings() -> None:
    project = next(p for p in Snapshot(DEMO_ORG).iter_projects() if p.id == CRM)
    lineage = build_lineage(project.id, project.components, project.tables)
    deals = "in.c-salesforce.Opportunity"
    assert lineage.produced_by[deals], "the deals table has a producer"
    for config_doc in lineage.produced_by[deals]:
        assert deals in lineage.outputs[config_doc]
    for config_doc in lineage.consumed_by[deals]:
        assert deals in lineage.inputs[config_doc]
    # Every consumer / producer named in a table's lineage is a configuration of the project.
    docs = {d.id: d for d in project_documents(project)}
    for doc in docs.values():
        for config_doc in doc.payload.get("produced_by", []) + doc.payload.get("consumed_by", []):
            assert config_doc.startswith(f"{CRM}/configuration/")
    assert lineage.produced_by[deals] == [f"{CRM}/configuration/keboola.ex-salesforce-v2/946796494"]
    assert PIPELINE in lineage.consumed_by[deals]


def test_default_bucket_gives_extractor_outputs() -> None:
    ads = DEMO.project("ads").id
    project = next(p for p in Snapshot(DEMO_ORG).iter_projects() if p.id == ads)
    lineage = build_lineage(project.id, project.components, project.tables)
    assert default_bucket("keboola.ex-google-ads", "595284277") == "in.c-keboola-ex-google-ads-595284277"
    campaign = "in.c-keboola-ex-google-ads-595284277.gads_campaigns"
    assert lineage.produced_by[campaign] == [f"{ads}/configuration/keboola.ex-google-ads/595284277"]
    assert f"{ads}/configuration/keboola.snowflake-transformation/1009200075" in lineage.consumed_by[campaign]


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

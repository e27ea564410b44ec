"""Document ids keep the public shape `{project_id}/{kind}/{key}` (design.md's examples)."""

from __future__ import annotations

import uuid

import pytest

from keboola_vectorizer import ids


def test_ids_have_the_documented_shape() -> None:
    assert ids.table_id(9001, "out.c-crm.company") == "9001/table/out.c-crm.company"
    assert ids.column_id(9001, "out.c-crm.company", "website") == "9001/column/out.c-crm.company.website"
    assert ids.configuration_id(9001, "keboola.snowflake-transformation", "7314") == \
        "9001/configuration/keboola.snowflake-transformation/7314"
    assert ids.configuration_row_id(9001, "keboola.ex-db-snowflake", "7314", "8812") == \
        "9001/configuration_row/keboola.ex-db-snowflake/7314/8812"
    assert ids.bucket_id(9001, "in.c-crm") == "9001/bucket/in.c-crm"
    assert ids.KINDS == ("bucket", "table", "column", "configuration", "configuration_row")
    assert ids.document_id(9001, ids.Kind.table, "in.c-a.t") == ids.document_id(9001, "table", "in.c-a.t")


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="flow"):
        ids.document_id(9001, "flow", "x")


def test_parse_round_trips_and_tolerates_malformed_ids() -> None:
    row = "9001/configuration_row/keboola.ex-db-snowflake/7314/8812"
    parsed = ids.parse(row)
    assert (parsed.project_id, parsed.kind) == (9001, "configuration_row")
    assert parsed.key == "keboola.ex-db-snowflake/7314/8812"
    assert ids.document_id(parsed.project, parsed.kind, parsed.key) == row
    broken = ids.parse("not-an-id")
    assert (broken.project_id, broken.kind, broken.key) == (None, "", "")


def test_column_table_and_point_ids() -> None:
    assert ids.column_table_id({"kind": "column", "project_id": 7, "table_id": "in.c-a.t"}) == "7/table/in.c-a.t"
    assert ids.column_table_id({"kind": "table", "project_id": 7, "table_id": "in.c-a.t"}) is None
    point = ids.point_id("7/table/in.c-a.t")
    assert uuid.UUID(point).version == 5 and point == ids.point_id("7/table/in.c-a.t") != ids.point_id("7/table/x")

"""The ranking stages on small hand-made candidate lists: identity, kind intent, lineage and flow
answers, tables leading their columns, deterministic fusion, and the eval statistics."""

from __future__ import annotations

from typing import Any

from keboola_vectorizer.eval_stats import bootstrap_interval, compare_rankings
from keboola_vectorizer.evaluate import METRICS, score_ranking
from keboola_vectorizer.ranking import stages
from keboola_vectorizer.ranking.confidence import explain_line, match_confidence, no_good_match
from keboola_vectorizer.ranking.fusion import fuse
from keboola_vectorizer.ranking.identity import EXACT, EXACT_BUT_KIND, IdentityMatcher, intent_outside_names
from keboola_vectorizer.ranking.intent import detect
from keboola_vectorizer.ranking.scope import project_scope
from keboola_vectorizer.ranking.words import word_set, words
from keboola_vectorizer.search import rerank, shadowed_parts_last
from keboola_vectorizer.store.base import Hit

ORDERS = "1/table/out.c-shop.order_items"
REFUNDS = "1/table/out.c-shop.refunds"
OTHER = "2/table/out.c-web.order_page_views"
BUILDER = "1/configuration/keboola.snowflake-transformation/11"
READER = "1/configuration/keboola.wr-db/12"
EXTRACTOR = "1/configuration/keboola.ex-shop/13"
FLOW = "1/configuration/keboola.orchestrator/14"
SCHEDULE = "1/configuration/keboola.scheduler/15"
SOURCE_TABLE = "1/table/in.c-shop.shop_orders_source"
NAMED_BUILDER = "1/configuration/keboola.python-transformation-v2/16"
CHECKER = "1/configuration/keboola.data-apps/17"
CHECKER_FLOW = "1/configuration/keboola.flow/18"
BUCKET = "1/bucket/in.c-shop"


def configuration(name: str, component_type: str, configuration_id: str, **more: Any) -> dict[str, Any]:
    return {"kind": "configuration", "name": name, "project_id": 1, "component_type": component_type,
            "configuration_id": configuration_id, **more}


def payloads() -> dict[str, dict[str, Any]]:
    return {
        ORDERS: {"kind": "table", "name": "order_items", "project_id": 1, "table_id": "out.c-shop.order_items",
                 "bucket_id": "out.c-shop", "produced_by": [BUILDER], "consumed_by": [READER]},
        REFUNDS: {"kind": "table", "name": "refunds", "project_id": 1, "table_id": "out.c-shop.refunds",
                  "bucket_id": "out.c-shop"},
        OTHER: {"kind": "table", "name": "order_page_views", "project_id": 2,
                "table_id": "out.c-web.order_page_views", "bucket_id": "out.c-web"},
        SOURCE_TABLE: {"kind": "table", "name": "shop_orders_source", "project_id": 1,
                       "table_id": "in.c-shop.shop_orders_source", "bucket_id": "in.c-shop"},
        BUCKET: {"kind": "bucket", "name": "shop", "project_id": 1, "bucket_id": "in.c-shop"},
        BUILDER: configuration("Build sales model", "transformation", "11"),
        READER: configuration("Warehouse export", "writer", "12"),
        EXTRACTOR: configuration("Shop orders source", "extractor", "13"),
        FLOW: configuration("Nightly", "flow", "14", flow_tasks=[EXTRACTOR, BUILDER]),
        SCHEDULE: configuration("Schedule: Nightly", "other", "15"),
        NAMED_BUILDER: configuration("Order items", "transformation", "16"),
        CHECKER: configuration("Created order items checker", "application", "17"),
        CHECKER_FLOW: configuration("Checks", "flow", "18", flow_tasks=[CHECKER]),
    }


def hits(scores: dict[str, float]) -> list[Hit]:
    table = payloads()
    return [Hit(doc_id, score, dict(table[doc_id])) for doc_id, score in scores.items()]


def fetch_from_fixture(ids: list[str]) -> list[Hit]:
    table = payloads()
    return [Hit(doc_id, 0.0, dict(table[doc_id])) for doc_id in ids if doc_id in table]


def ranked_ids(query: str, scores: dict[str, float], ranking: stages.Ranking | None = None) -> list[str]:
    notes: dict[str, dict] = {}
    ranked, _ = stages.apply(query, hits(scores), ranking or stages.Ranking(), fetch_from_fixture, notes)
    return [h.document_id for h in ranked]


def test_identity_exact_name_and_id_win_one_shared_word_does_not() -> None:
    matcher = IdentityMatcher("order items", list(payloads().values()))
    assert matcher.strength(payloads()[ORDERS]) == EXACT
    assert matcher.strength(payloads()[OTHER]) == 0.0  # shares "order" only
    assert IdentityMatcher("where is out.c-shop.refunds used", []).strength(payloads()[REFUNDS]) == EXACT
    assert IdentityMatcher("how many refunds were issued last month", []).strength(payloads()[REFUNDS]) == 0.0
    contained = IdentityMatcher("totals of the order items by day", list(payloads().values()))
    assert 0.0 < contained.strength(payloads()[ORDERS]) < EXACT


def test_the_literal_name_beats_the_same_name_with_a_kind_word() -> None:
    """Kind words are set aside to match "the billing extractor" to "Billing", but the object whose
    name is literally the question wins: "nightly" is the flow, "schedule nightly" its scheduler."""
    candidates = list(payloads().values())
    assert IdentityMatcher("nightly", candidates).strength(payloads()[FLOW]) == EXACT
    assert IdentityMatcher("nightly", candidates).strength(payloads()[SCHEDULE]) == EXACT_BUT_KIND
    assert IdentityMatcher("schedule nightly", candidates).strength(payloads()[SCHEDULE]) == EXACT
    assert IdentityMatcher("schedule nightly", candidates).strength(payloads()[FLOW]) == EXACT_BUT_KIND
    assert ranked_ids("nightly", {SCHEDULE: 0.052, FLOW: 0.05})[0] == FLOW


def test_an_exact_name_leads_objects_named_less_exactly_however_far_behind() -> None:
    # The scheduler's text repeats the flow's and more; a table shares most of a transformation's name.
    assert ranked_ids("nightly", {SCHEDULE: 0.09, FLOW: 0.02})[:2] == [FLOW, SCHEDULE]
    # Several objects of the exact name keep their own order above the rest.
    assert ranked_ids("order items", {CHECKER: 0.09, NAMED_BUILDER: 0.01, ORDERS: 0.02})[:2] == [ORDERS, NAMED_BUILDER]
    # Without the stage the better-scored object stays first.
    assert ranked_ids("nightly", {SCHEDULE: 0.09, FLOW: 0.02}, stages.Ranking(exact_leads=False))[0] == SCHEDULE


def test_a_named_object_of_another_kind_than_asked_gives_way_to_the_asked_kind() -> None:
    # Both are called "shop orders source"; the question asks for the extractor.
    scores = {SOURCE_TABLE: 0.09, EXTRACTOR: 0.05}
    assert ranked_ids("the extractor shop orders source", scores)[0] == EXTRACTOR
    assert ranked_ids("the extractor shop orders source", scores, stages.Ranking(other_kind_identity=1.0))[0] \
        == SOURCE_TABLE
    # A bucket is the answer when it is all the question says, "bucket" aside; else it is the scope.
    assert ranked_ids("the extractor for shop", {BUCKET: 0.06, EXTRACTOR: 0.05})[0] == EXTRACTOR
    assert ranked_ids("the shop bucket", {BUCKET: 0.04, EXTRACTOR: 0.05})[0] == BUCKET
    assert ranked_ids("shop", {BUCKET: 0.04, EXTRACTOR: 0.05})[0] == BUCKET


def test_kind_words_inside_a_name_the_question_holds_are_the_name_not_the_intent() -> None:
    field_table = {"kind": "table", "name": "task_custom_field", "table_id": "out.c-pm.task_custom_field"}
    app_named = {"kind": "configuration", "name": "GA4 comparison app", "component_type": "transformation"}
    own_kind = {"kind": "configuration", "name": "Transformation [IN-SHOP]", "component_type": "transformation"}
    checker = dict(payloads()[CHECKER])
    candidates = [field_table, app_named, own_kind, checker]
    assert detect("task custom field").kinds == ["column"]
    assert intent_outside_names("task custom field", candidates).kinds == []
    assert intent_outside_names("the task custom field column", candidates).kinds == ["column"]
    assert intent_outside_names("ga4 comparison app", candidates).kinds == []
    # The name says its own kind, as the question does: the intent stays.
    assert intent_outside_names("transformation in shop", candidates).kinds == ["transformation"]
    assert detect("which flow runs created order items checker").lineage == "upstream"
    outside = intent_outside_names("which flow runs created order items checker", candidates)
    assert outside.kinds == ["flow"] and outside.lineage is None
    assert intent_outside_names("what produces order items", candidates).lineage == "upstream"


def test_exact_name_comes_first_from_behind() -> None:
    assert ranked_ids("order items", {OTHER: 0.09, REFUNDS: 0.08, ORDERS: 0.05})[0] == ORDERS
    # Without the identity stage the closer-scoring table stays first.
    plain = stages.Ranking(identity_weight=0.0)
    assert ranked_ids("order items", {OTHER: 0.09, REFUNDS: 0.08, ORDERS: 0.05}, plain)[0] == OTHER


def test_kind_words_are_a_soft_prior() -> None:
    intent = detect("the extractor for the shop")
    assert intent.kinds == ["extractor"] and intent.lineage is None
    assert detect("which flow runs the model").kinds == ["flow"]
    ids = ranked_ids("the extractor for shop data", {REFUNDS: 0.060, EXTRACTOR: 0.055})
    assert ids.index(EXTRACTOR) < ids.index(REFUNDS)
    # A prior, not a filter: a much better table still wins.
    assert ranked_ids("the extractor for shop data", {REFUNDS: 0.2, EXTRACTOR: 0.05})[0] == REFUNDS


def test_lineage_questions_rank_the_producers_and_consumers_of_the_named_table() -> None:
    assert detect("what produces order items").lineage == "upstream"
    assert detect("which configurations read order items").lineage == "downstream"
    up = ranked_ids("what produces the order items table", {ORDERS: 0.09, REFUNDS: 0.05})
    assert up[0] == BUILDER and up[1] == ORDERS  # fetched from the table's lineage, then the table
    down = ranked_ids("which configurations read order items", {ORDERS: 0.09, BUILDER: 0.08})
    assert down[0] == READER and down.index(BUILDER) > down.index(ORDERS)


def test_flows_are_found_by_what_they_run() -> None:
    ids = ranked_ids("which flow runs shop orders source", {EXTRACTOR: 0.09, REFUNDS: 0.06, FLOW: 0.03})
    assert ids[:2] == [FLOW, EXTRACTOR]
    # A table called like the task is what the question is about, not what it asks for.
    ids = ranked_ids("which flow runs shop orders source",
                     {SOURCE_TABLE: 0.12, EXTRACTOR: 0.09, REFUNDS: 0.06, FLOW: 0.03})
    assert ids[:3] == [FLOW, SOURCE_TABLE, EXTRACTOR]


def test_lineage_answers_lead_everything_the_question_names() -> None:
    # The transformation called like the table is named too, and a configuration as asked: still
    # the table's reader answers "which configurations read order items".
    down = ranked_ids("which configurations read order items", {NAMED_BUILDER: 0.10, ORDERS: 0.09})
    assert down[0] == READER
    # A lineage word inside a clearer name ("Created ... checker") does not make the table an anchor.
    ids = ranked_ids("which flow runs created order items checker",
                     {CHECKER: 0.10, ORDERS: 0.09, CHECKER_FLOW: 0.03})
    assert ids[0] == CHECKER_FLOW and BUILDER not in ids


def test_an_answer_found_through_a_named_object_is_confident() -> None:
    notes: dict[str, dict] = {}
    stages.apply("which configurations read order items", hits({ORDERS: 0.09}), stages.Ranking(),
                 fetch_from_fixture, notes)
    assert notes[READER]["anchor"] == ORDERS
    assert match_confidence(notes[READER], notes) == 1.0  # fetched through the lineage: no cosine of its own
    notes = {FLOW: {"dense_score": 0.2}, EXTRACTOR: {"dense_score": 0.5}}
    stages.apply("which flow runs shop orders source", hits({EXTRACTOR: 0.09, FLOW: 0.03}), stages.Ranking(),
                 fetch_from_fixture, notes)
    assert notes[FLOW]["anchor"] == EXTRACTOR and match_confidence(notes[FLOW], notes) >= 0.9


def test_joint_project_evidence_prefers_the_project_holding_several_matches() -> None:
    scores = {OTHER: 0.060, ORDERS: 0.058, REFUNDS: 0.050}
    assert ranked_ids("sales and returns", scores, stages.Ranking(project_weight=0.0))[0] == OTHER
    assert ranked_ids("sales and returns", scores)[0] == ORDERS


def test_a_table_leads_its_own_best_column() -> None:
    column = Hit("1/column/out.c-shop.order_items.amount", 0.09,
                 {"kind": "column", "project_id": 1, "table_id": "out.c-shop.order_items", "name": "amount"})
    table = Hit(ORDERS, 0.01, payloads()[ORDERS])
    notes: dict[str, dict] = {}
    ranked = rerank([column, table], rank_scores=False, rrf_k=20, fetch=fetch_from_fixture, whole_leads=True,
                    notes=notes)
    assert [h.document_id for h in ranked] == [ORDERS, column.document_id]
    assert notes[ORDERS]["matched_part_name"] == "amount"
    old = rerank([Hit(column.document_id, 0.09, column.payload), Hit(ORDERS, 0.01, payloads()[ORDERS])],
                 rank_scores=False, rrf_k=20, fetch=fetch_from_fixture)
    assert old[0].document_id == column.document_id


def test_a_question_asking_for_a_column_or_row_gets_it_ahead_of_its_whole() -> None:
    column = Hit("1/column/out.c-shop.order_items.amount", 0.09,
                 {"kind": "column", "project_id": 1, "table_id": "out.c-shop.order_items", "name": "amount"})

    def first(asked: frozenset[str]) -> str:
        found = [Hit(column.document_id, column.score, dict(column.payload)), Hit(ORDERS, 0.06, payloads()[ORDERS])]
        return rerank(found, rank_scores=False, rrf_k=20, fetch=fetch_from_fixture, whole_leads=True,
                      asked_parts=asked)[0].document_id

    assert first(frozenset()) == ORDERS  # the column is evidence for its table
    assert first(frozenset({"column"})) == column.document_id  # the column is the answer
    assert "column" in detect("order amount column").kinds
    assert "configuration_row" in detect("the charges row of the stripe extractor").kinds
    assert "column" not in detect("order amount by day").kinds


def test_a_tables_further_columns_step_behind_the_next_table() -> None:
    """The table, its best column, then the next table before the table's other columns (BIRD's
    questions need all their tables in the first five); a question for columns keeps them in place."""
    def column(name: str, score: float) -> Hit:
        return Hit(f"1/column/out.c-shop.order_items.{name}", score,
                   {"kind": "column", "project_id": 1, "table_id": "out.c-shop.order_items", "name": name})

    def order(asked: frozenset[str], ranking: stages.Ranking) -> list[str]:
        found = [Hit(ORDERS, 0.09, payloads()[ORDERS]), column("amount", 0.08), column("price", 0.07),
                 column("quantity", 0.06), Hit(REFUNDS, 0.05, payloads()[REFUNDS])]
        ranked = sorted(found, key=lambda h: -h.score)
        if ranking.shadowed_parts_last:
            ranked = shadowed_parts_last(ranked, asked, ranking.shadow_keep)
        return [h.document_id.rsplit(".", 1)[-1] for h in ranked]

    assert order(frozenset(), stages.Ranking()) == ["order_items", "amount", "refunds", "price", "quantity"]
    assert order(frozenset({"column"}), stages.Ranking()) == ["order_items", "amount", "price", "quantity", "refunds"]
    assert order(frozenset(), stages.BASELINE) == ["order_items", "amount", "price", "quantity", "refunds"]


def test_fusion_orders_ties_by_id_whatever_the_input_order() -> None:
    dense = [Hit(REFUNDS, 0.5, {}), Hit(ORDERS, 0.5, {}), Hit(OTHER, 0.4, {})]
    sparse = [Hit(OTHER, 3.0, {}), Hit(ORDERS, 2.0, {})]
    forward = fuse({"dense": dense, "sparse": sparse}, {"dense": 1.0, "sparse": 1.0}, 20, {})
    backward = fuse({"dense": dense[::-1], "sparse": sparse[::-1]}, {"dense": 1.0, "sparse": 1.0}, 20, {})
    assert [(h.document_id, h.score) for h in forward] == [(h.document_id, h.score) for h in backward]
    notes: dict[str, dict] = {}
    fuse({"dense": dense, "sparse": sparse}, {"dense": 1.0, "sparse": 1.0}, 20, notes)
    assert notes[ORDERS]["dense_rank"] == notes[REFUNDS]["dense_rank"] == 1 and notes[ORDERS]["sparse_rank"] == 2


def test_explain_line_and_no_good_match_line() -> None:
    line = explain_line({"dense_rank": 3, "dense_score": 0.52, "sparse_rank": 1, "sparse_score": 7.1,
                         "matched": {"id": "x", "name": "amount", "dense_rank": 1}, "identity": 1.0})
    assert "dense #3 (0.520)" in line and "matched amount (dense #1)" in line and "name match 1.00" in line
    assert no_good_match(0.2) is not None and no_good_match(0.9) is None and no_good_match(None) is None


def test_hit_recall_and_paired_comparison() -> None:
    scores = score_ranking(["a", "x", "b"], ["b", "c"])
    assert scores["hit@1"] == 0.0 and scores["hit@5"] == 1.0 and scores["recall@5"] == 0.5
    low, high = bootstrap_interval([0.0, 1.0] * 50)
    assert low < 0.5 < high and bootstrap_interval([0.0, 1.0] * 50) == (low, high)
    before = [{"query": f"q{i}", "relevant": ["a"], "top": ["x", "a"]} for i in range(40)]
    after = [{"query": f"q{i}", "relevant": ["a"], "top": ["a", "x"] if i % 4 else ["x", "a"]} for i in range(40)]
    result = compare_rankings(before, after, METRICS)
    assert result["hit@1"]["delta"] == 0.75 and result["hit@1"]["significant"]
    assert result["hit@1"]["better"] == 30 and result["hit@1"]["worse"] == 0
    assert not compare_rankings(before, before, METRICS)["mrr@10"]["significant"]


def test_the_pool_does_not_depend_on_how_the_store_breaks_ties() -> None:
    from keboola_vectorizer.ranking.fusion import settled

    tied = [Hit(f"1/column/t.c{i}", 1.0, {}) for i in range(6)]
    best = [Hit("1/table/a", 3.0, {}), Hit("1/table/b", 2.0, {})]
    one_order = settled(best + tied[:2], requested=4, pool=3)  # the store cut the tie group here...
    other_order = settled(best + tied[4:], requested=4, pool=3)  # ...or here
    assert [h.document_id for h in one_order] == [h.document_id for h in other_order] == ["1/table/a", "1/table/b"]
    not_full = settled(best + tied[:2], requested=10, pool=3)  # the whole tie group is in: keep it, by id
    assert [h.document_id for h in not_full] == ["1/table/a", "1/table/b", "1/column/t.c0"]


# ----- a question that names a project ---------------------------------------------------------

CRM_DEALS = "5/table/in.c-crm.deals"
SANDBOX_DEALS = "6/table/in.c-shared.deals"
CRM_EXTRACTOR = "5/configuration/kds-team.ex-hubspot-crm/51"
CRM_TRANSFORMATION = "5/configuration/keboola.snowflake-transformation/52"
CRM_APP = "5/configuration/keboola.data-apps/53"


def scoped_payloads() -> dict[str, dict[str, Any]]:
    crm = {"project_id": 5, "project_name": "CRM Hubspot with Streamlit"}
    return {
        CRM_DEALS: {"kind": "table", "name": "deals", "table_id": "in.c-crm.deals", **crm},
        SANDBOX_DEALS: {"kind": "table", "name": "deals", "table_id": "in.c-shared.deals", "project_id": 6,
                        "project_name": "Analytics Sandbox"},
        CRM_EXTRACTOR: {**configuration("Hubspot CRM", "extractor", "51"), **crm},
        CRM_TRANSFORMATION: {**configuration("Deals cleaning in CRM Hubspot with Streamlit", "transformation",
                                             "52"), **crm},
        CRM_APP: {**configuration("Pipeline explorer", "application", "53"), **crm},
    }


def scoped_ranking(query: str, scores: dict[str, float]) -> list[str]:
    """The ranking as search.py reads the question: scope and intent first, then the stages."""
    table = scoped_payloads()
    candidates = [Hit(doc_id, score, dict(table[doc_id])) for doc_id, score in scores.items()]
    scope, intent = stages.read_question(query, [h.payload for h in candidates])
    ranked, _ = stages.apply(query, candidates, stages.Ranking(), lambda ids: [], {}, intent, scope)
    return [h.document_id for h in ranked]


def test_a_named_project_is_where_to_look_and_its_name_names_no_answer() -> None:
    # The sandbox's copy of the table scores higher, and the extractor is called like the project.
    scores = {SANDBOX_DEALS: 0.05, CRM_EXTRACTOR: 0.045, CRM_DEALS: 0.04, CRM_APP: 0.01}
    assert scoped_ranking("deals in crm hubspot with streamlit", scores)[0] == CRM_DEALS
    # Without the project's name nothing is scoped, and "streamlit" outside it asks for a data app.
    assert scoped_ranking("deals", scores)[0] == SANDBOX_DEALS
    candidates = list(scoped_payloads().values())
    assert stages.read_question("deals in crm hubspot with streamlit", candidates)[1].kinds == []
    assert stages.read_question("deals streamlit", candidates)[1].kinds == ["application"]


def test_an_object_whose_own_name_holds_the_project_name_keeps_its_identity() -> None:
    scores = {CRM_DEALS: 0.05, SANDBOX_DEALS: 0.05, CRM_TRANSFORMATION: 0.03, CRM_EXTRACTOR: 0.03}
    assert scoped_ranking("deals cleaning in crm hubspot with streamlit", scores)[0] == CRM_TRANSFORMATION


def test_a_question_that_is_only_a_project_name_is_not_scoped() -> None:
    payloads_ = list(scoped_payloads().values())
    assert project_scope("crm hubspot with streamlit", payloads_).projects == frozenset()
    named = project_scope("the deals table in analytics sandbox", payloads_)
    assert named.projects == frozenset({6}) and "sandbox" not in named.asked and "deal" in named.asked
    assert project_scope("sandbox deals", payloads_).projects == frozenset()  # the whole name, or no scope


def test_a_name_split_at_its_humps_meets_the_word_people_type() -> None:
    extractor = {**configuration("HubSpot CRM", "extractor", "61"), "project_id": 7, "project_name": "Sales HubSpot"}
    writer = {**configuration("PostgreSQL warehouse", "writer", "62"), "project_id": 7}
    table = {"kind": "table", "name": "deals", "project_id": 7, "project_name": "Sales HubSpot"}
    assert IdentityMatcher("hubspot crm", [extractor, writer]).strength(extractor) == EXACT
    assert IdentityMatcher("hub spot crm", [extractor, writer]).strength(extractor) == EXACT
    assert IdentityMatcher("postgresql warehouse", [extractor, writer]).strength(writer) == EXACT
    assert detect("postgresql warehouse writer").kinds == ["writer"]  # no "sql" made up for the intent
    assert project_scope("deals in sales hubspot", [extractor, table]).projects == frozenset({7})
    # Either spelling, even where another name holds the brand whole.
    tiktok = [{"kind": "bucket", "name": "tiktok", "project_id": 7},
              configuration("TikTok Ads reporting", "extractor", "63")]
    assert IdentityMatcher("tiktok ads reporting", tiktok).strength(tiktok[1]) == EXACT
    assert IdentityMatcher("tik tok ads reporting", tiktok).strength(tiktok[1]) == EXACT


def test_an_exact_name_among_candidates_without_scores_is_still_ranked() -> None:
    # Wholes fetched only through their parts come in at 0: nothing to scale, nothing to divide by.
    assert set(ranked_ids("nightly", {FLOW: 0.0, SCHEDULE: 0.0})) == {FLOW, SCHEDULE}


def test_word_set_is_the_set_of_words() -> None:
    text = ("CustomerLifetimeValue of out.c-crm.ORDERS: categories, Orders and orders; IN-CRM-PIPEDRIVE "
            "bdm_orders 9006ke analyses status HTTPServer") * 3
    assert word_set(text) == set(words(text))
    assert {"customer", "order", "category", "pipedrive", "http", "server"} <= word_set(text)


def test_function_words_are_dropped_in_their_folded_form_too() -> None:
    """"does" folds to "doe": a question with it still says nothing but the name."""
    matcher = IdentityMatcher("where does employee come from", [{"kind": "table", "name": "employee"},
                                                                 {"kind": "table", "name": "lead"}])
    assert "doe" not in matcher.query_content
    assert matcher.strength({"kind": "table", "name": "employee"}) >= EXACT_BUT_KIND

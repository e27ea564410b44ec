"""Vocabulary of the operations-side projects: support desk, product events, HR, logistics, and the
data-quality / reporting project that links the buckets other projects share.

Written for this project; the HR project carries unicode names, as multilingual teams do.
"""

from __future__ import annotations

from keboola_vectorizer.demo_org.spec import DomainSpec, SourceSpec, TableSpec, TransformSpec, WriterSpec

SUPPORT = DomainSpec(
    key="support", project_name="Customer Support", output_bucket="support_kpis",
    output_bucket_description="Ticket volumes, response times and satisfaction for the support leads.",
    flow_name="Support KPIs every 4 hours", cron="0 */4 * * *", shared=True,
    features=frozenset({"variables", "alias"}),
    sources=(
        SourceSpec(
            "keboola.ex-zendesk", "Zendesk", "Zendesk help desk", bucket="zendesk", rows="per_table",
            row_parameters="endpoint",
            description="Tickets, comments, agents and CSAT ratings from Zendesk Support.",
            parameters={"subdomain": "acmehelp", "email": "support-ops@acme.example",
                        "#api_token": "KBC::ProjectSecure::zd"},
            tables=(
                TableSpec("tickets", "ticket_id:I* requester_id:I assignee_id:I organization_id:I subject:S "
                          "status:S priority:S channel:S created_at:T solved_at:T first_reply_minutes:I",
                          "Support tickets with status, priority and timings.",
                          {"first_reply_minutes": "Business minutes until the first public agent reply.",
                           "channel": "email, web form, chat or phone."}),
                TableSpec("ticket_comments", "comment_id:I* ticket_id:I author_id:I public:B created_at:T"),
                TableSpec("agents", "user_id:I* name:S email:S team:S role:S active:B"),
                TableSpec("organizations", "organization_id:I* name:S domain:S tier:S"),
                TableSpec("satisfaction_ratings", "rating_id:I* ticket_id:I score:S comment:S created_at:T",
                          notes={"score": "good or bad, as the customer answered the CSAT survey."}),
            )),
        SourceSpec(
            "kds-team.ex-intercom", "Intercom", "Intercom live chat", bucket="intercom", style="camel",
            description="Chat conversations from the in-app messenger.",
            parameters={"#access_token": "KBC::ProjectSecure::intercom"},
            tables=(
                TableSpec("conversations", "conversation_id:S* contact_id:S assignee_id:S state:S priority:S "
                          "created_at:T closed_at:T rating:I", "In-app chat conversations.",
                          {"rating": "Conversation rating from 1 to 5 the customer left."}),
                TableSpec("conversation_parts", "part_id:S* conversation_id:S author_type:S part_type:S created_at:T"),
                TableSpec("help_articles", "article_id:S* title:S state:S views:I reactions_positive:I "
                          "reactions_negative:I updated_at:T"),
            )),
    ),
    transformations=(
        TransformSpec("Ticket volume by channel", "ticket_volume", ("tickets",), ("channel", "priority", "status"),
                      (("count", "ticket_id"), ("avg", "first_reply_minutes")),
                      description="How many tickets arrive per channel and how fast we first reply.",
                      comment="ticket counts and first reply time"),
        TransformSpec("Agent workload", "agent_workload", ("tickets", "agents"), ("agents.name", "team"),
                      (("count", "ticket_id"), ("avg", "first_reply_minutes")), on="assignee_id=user_id",
                      comment="tickets handled per agent"),
        TransformSpec("Chat resolution", "chat_resolution", ("conversations",), ("state", "priority"),
                      (("count", "conversation_id"), ("avg", "rating")), comment="chat conversations and rating",
                      description="How many chats we close and how customers rate them."),
        TransformSpec("CSAT by organisation", "csat_by_org", ("satisfaction_ratings", "tickets"),
                      ("organization_id", "score"), (("count", "rating_id"),), on="ticket_id=ticket_id",
                      language="python", description="Customer satisfaction answers per customer organisation."),
    ),
    writers=(
        WriterSpec("keboola.wr-db-pgsql", "PostgreSQL", "Support dashboard database",
                   ("ticket_volume", "agent_workload"),
                   parameters={"db": {"host": "metabase-db.internal", "database": "support",
                                      "user": "writer", "#password": "KBC::ProjectSecure::pg"}}),
    ),
)

PRODUCT = DomainSpec(
    key="product", project_name="Product Events", output_bucket="product_usage",
    flow_name="Product usage hourly", cron="20 * * * *",
    features=frozenset({"long_script", "typed", "dev_branch"}),
    sources=(
        SourceSpec(
            "keboola.ex-aws-s3", "AWS S3", "App event exports (S3)", bucket="app_events", rows="per_table",
            row_parameters="endpoint",
            description="JSON event exports the mobile and web apps drop into S3 every hour.",
            bucket_description="Raw product analytics events: one row per tracked event.",
            parameters={"accessKeyId": "AKIAEXAMPLEEVENTS", "#secretAccessKey": "KBC::ProjectSecure::s3"},
            tables=(
                TableSpec("events", "event_id:S* user_id:S session_id:S event_name:S platform:S app_version:S "
                          "country:S occurred_at:T properties:S",
                          "Tracked product events from web, iOS and Android.",
                          {"event_name": "Tracking plan name, e.g. signup_completed or checkout_started.",
                           "properties": "JSON object with event-specific properties."}),
                TableSpec("users", "user_id:S* signup_at:T plan:S referral_source:S is_internal:B"),
                TableSpec("feature_flags", "flag_key:S* user_id:S* variant:S assigned_at:T"),
                TableSpec("experiments", "experiment_id:S* name:S hypothesis:S started_at:T ended_at:T "
                          "primary_metric:S"),
                TableSpec("experiment_results", "experiment_id:S* variant:S* users:I conversions:I "
                          "conversion_rate:F uplift:F p_value:F", "Read-out of finished A/B tests.",
                          {"p_value": "Two-sided p-value against the control variant."}),
            )),
        SourceSpec(
            "keboola.ex-db-snowflake", "Snowflake", "Billing replica (Snowflake)", bucket="accounts_replica",
            style="upper", rows="per_table", row_parameters="table",
            description="Account and plan data replicated from the product database.",
            parameters={"db": {"host": "acme-prod.snowflakecomputing.com", "database": "APP", "warehouse": "READER",
                               "user": "KEBOOLA_READER", "#password": "KBC::ProjectSecure::sfdb"}},
            tables=(
                TableSpec("workspaces", "workspace_id:S* owner_user_id:S plan:S seats:I created_at:T "
                          "trial_ends_at:T", "Customer workspaces (tenants) of the product."),
                TableSpec("workspace_members", "workspace_id:S* user_id:S* role:S joined_at:T"),
                TableSpec("plan_changes", "change_id:I* workspace_id:S from_plan:S to_plan:S changed_at:T "
                          "mrr_delta:N", notes={"mrr_delta": "Change of monthly recurring revenue in EUR."}),
            )),
    ),
    transformations=(
        TransformSpec("Sessionize events", "sessions", ("events",), ("session_id", "user_id", "platform"),
                      (("count", "event_id"), ("min", "occurred_at"), ("max", "occurred_at")), language="python",
                      description="Groups raw events into sessions with 30 minutes of inactivity as the boundary."),
        TransformSpec("Daily active users", "daily_active_users", ("events",), ("occurred_at", "platform"),
                      (("count_distinct", "user_id"), ("count", "event_id")),
                      comment="distinct users per day and platform",
                      output_description="DAU per platform: distinct users with at least one event that day."),
        TransformSpec("Feature adoption", "feature_adoption", ("events", "users"), ("event_name", "plan"),
                      (("count_distinct", "users.user_id"),), on="user_id=user_id",
                      comment="how many users of each plan use each feature"),
        TransformSpec("Plan upgrades", "plan_upgrades", ("plan_changes",), ("from_plan", "to_plan"),
                      (("count", "change_id"), ("sum", "mrr_delta")), comment="upgrades and downgrades between plans",
                      output_description="Expansion and contraction MRR: moves between plans."),
        TransformSpec("Experiment exposure", "experiment_exposure", ("feature_flags",), ("flag_key", "variant"),
                      (("count_distinct", "user_id"),), comment="users exposed to each variant"),
    ),
)

HR = DomainSpec(
    key="hr", project_name="People & HR", output_bucket="people_analytics", output_style="pascal",
    output_bucket_description="Headcount, attrition and hiring funnel – access restricted to People team.",
    flow_name="Týdenní HR přehled", cron="0 6 * * 1",
    features=frozenset({"unicode", "empty_config"}),
    sources=(
        SourceSpec(
            "kds-team.ex-bamboohr", "BambooHR", "BambooHR – zaměstnanci", bucket="bamboohr", style="camel",
            rows="per_table", row_parameters="endpoint",
            description="Employees, departments, time off and compensation from BambooHR.",
            parameters={"company_domain": "acme", "#api_key": "KBC::ProjectSecure::bamboo"},
            tables=(
                TableSpec("employees", "employee_id:I* first_name:S last_name:S work_email:S department_id:I "
                          "job_title:S location:S hire_date:D termination_date:D employment_status:S",
                          "Everyone employed now or in the past.",
                          {"employment_status": "Full-time, part-time, contractor or terminated."}),
                TableSpec("departments", "department_id:I* name:S parent_id:I cost_center:S"),
                TableSpec("time_off_requests", "request_id:I* employee_id:I type:S start_date:D end_date:D "
                          "days:F status:S"),
                TableSpec("compensation", "employee_id:I* effective_date:D* pay_rate:N currency:S pay_type:S",
                          notes={"pay_rate": "Annual salary or hourly rate, see pay_type."}),
                TableSpec("performance_reviews", "review_id:I* employee_id:I reviewer_id:I cycle:S rating:I "
                          "submitted_at:T", "Hodnocení výkonu – twice-yearly review cycle."),
            )),
        SourceSpec(
            "kds-team.ex-greenhouse", "Greenhouse", "Greenhouse recruiting", bucket="greenhouse",
            rows="per_table", row_parameters="endpoint",
            parameters={"#api_key": "KBC::ProjectSecure::gh", "endpoints": ["applications", "jobs"]},
            tables=(
                TableSpec("applications", "application_id:I* job_id:I candidate_id:I current_stage:S status:S "
                          "source:S applied_at:T rejected_at:T"),
                TableSpec("jobs", "job_id:I* name:S department_id:I status:S opened_at:T closed_at:T"),
            )),
    ),
    transformations=(
        TransformSpec("Headcount by department", "headcount", ("employees", "departments"),
                      ("departments.name", "location"), (("count", "employee_id"),), on="department_id=department_id",
                      where=("employment_status", "Full-time"), description="Počet zaměstnanců podle oddělení.",
                      comment="active full-time headcount per department"),
        TransformSpec("Hiring funnel", "hiring_funnel", ("applications", "jobs"), ("jobs.name", "current_stage"),
                      (("count", "application_id"),), on="job_id=job_id", language="python",
                      description="Candidates per open role and interview stage."),
        TransformSpec("Absence summary", "absence_summary", ("time_off_requests",), ("type", "status"),
                      (("sum", "days"), ("count", "request_id")), comment="days of leave per type"),
    ),
)

LOGISTICS = DomainSpec(
    key="logistics", project_name="Warehouse & Logistics", output_bucket="fulfilment",
    flow_name="Shipment tracking", cron="*/30 * * * *",
    features=frozenset({"keboola_orchestrator", "alias"}),
    sources=(
        SourceSpec(
            "keboola.ex-db-pgsql", "PostgreSQL", "WMS database", bucket="wms", rows="per_table", style="upper",
            row_parameters="query",
            description="Shipments, parcels and warehouse moves from the warehouse management system.",
            parameters={"db": {"host": "wms-db.internal", "port": 5432, "database": "wms",
                               "user": "readonly", "#password": "KBC::ProjectSecure::wms"}},
            tables=(
                TableSpec("shipments", "shipment_id:I* order_ref:S carrier_code:S warehouse_code:S status:S "
                          "shipped_at:T delivered_at:T weight_kg:F shipping_cost:N",
                          "Outbound shipments with carrier and delivery times.",
                          {"order_ref": "Webshop order number the shipment fulfils."}),
                TableSpec("carriers", "carrier_code:S* name:S service_level:S"),
                TableSpec("warehouses", "warehouse_code:S* city:S country:S capacity_pallets:I"),
                TableSpec("returns", "return_id:I* shipment_id:I sku:S reason:S condition:S received_at:T "
                          "refund_amount:N", "Parcels customers sent back, with their condition on arrival."),
                TableSpec("stock_movements", "movement_id:I* sku:S warehouse_code:S quantity:I movement_type:S "
                          "moved_at:T"),
            )),
        SourceSpec(
            "ex-generic-v2", "Generic Extractor", "Carrier tracking API",
            description="Parcel tracking events pulled from the carriers' REST APIs.",
            parameters={"api": {"baseUrl": "https://tracking.parcel-hub.example/v2/"},
                        "config": {"#token": "KBC::ProjectSecure::track", "jobs": [{"endpoint": "events"}]}},
            tables=(
                TableSpec("tracking_events", "event_id:S* tracking_number:S carrier_code:S status:S location:S "
                          "occurred_at:T", "Every scan of a parcel on its way to the customer.",
                          {"status": "picked_up, in_transit, out_for_delivery, delivered or exception."}),
                TableSpec("delivery_exceptions", "exception_id:S* tracking_number:S reason:S resolved:B "
                          "reported_at:T"),
            )),
    ),
    transformations=(
        TransformSpec("Carrier performance", "carrier_performance", ("shipments", "carriers"),
                      ("carriers.name", "service_level"), (("count", "shipment_id"), ("avg", "shipping_cost")),
                      on="carrier_code=carrier_code", description="On-time delivery and cost per carrier.",
                      comment="shipments and average cost per carrier"),
        TransformSpec("Delivery exceptions", "delivery_exception_summary", ("delivery_exceptions",),
                      ("reason", "resolved"), (("count", "exception_id"),), language="python",
                      description="Parcels that got stuck: lost, damaged, wrong address."),
        TransformSpec("Warehouse throughput", "warehouse_throughput", ("stock_movements",),
                      ("warehouse_code", "movement_type"), (("sum", "quantity"), ("count", "movement_id")),
                      comment="units moved per warehouse"),
    ),
    writers=(
        WriterSpec("keboola.wr-google-bigquery-v2", "Google BigQuery", "Ops data warehouse",
                   ("carrier_performance", "warehouse_throughput"),
                   parameters={"dataset": "ops", "#service_account": "KBC::ProjectSecure::gcp"}),
    ),
)

REPORTING = DomainSpec(
    key="reporting", project_name="Data Quality & Reporting", output_bucket="exec_kpis", output_style="upper",
    output_bucket_description="Company KPIs and data quality checks built from buckets the other projects share.",
    flow_name="Executive KPIs", cron="0 8 * * *",
    features=frozenset({"linked", "deleted"}),
    sources=(
        SourceSpec(
            "keboola.ex-google-drive", "Google Drive", "Targets spreadsheet", bucket="targets",
            rows="per_table", row_parameters="endpoint",
            description="Quarterly targets the leadership team keeps in a spreadsheet.",
            parameters={"#token": "KBC::ProjectSecure::gdrive"},
            tables=(
                TableSpec("revenue_targets", "quarter:S* region:S* target_revenue:N target_new_logos:I",
                          "Revenue and new customer targets per quarter and region."),
                TableSpec("kpi_definitions", "kpi_key:S* name:S owner:S formula:S unit:S review_cadence:S",
                          "The agreed definition of every company KPI and who owns it."),
                TableSpec("dq_rules", "rule_id:S* table_id:S check_type:S threshold:F severity:S is_active:B",
                          notes={"check_type": "row_count, not_null, unique, freshness or accepted_values."}),
            )),
    ),
    transformations=(
        TransformSpec("Revenue vs target", "revenue_vs_target", ("crm:won_revenue_by_rep", "revenue_targets"),
                      ("region",), (("sum", "total_amount"), ("max", "target_revenue")), on="region=region",
                      description="Closed-won revenue from the CRM against the leadership targets.",
                      comment="won revenue compared to the quarterly target"),
        TransformSpec("Customer health", "customer_health", ("billing:revenue_by_customer",),
                      ("country",), (("sum", "total_amount"), ("count", "id", "paying_customers")),
                      comment="paying customers per country"),
        TransformSpec("Support load per tier", "support_load", ("support:ticket_volume",), ("channel", "priority"),
                      (("sum", "ticket_count", "tickets"),), comment="tickets per channel across the company"),
        TransformSpec("Data quality checks", "dq_results", ("ecommerce:daily_sales",), ("created_at",),
                      (("sum", "orders", "orders"), ("sum", "revenue", "revenue")), language="python",
                      description="Row counts and null checks on the tables the KPI dashboards read; "
                                  "a failed check stops the flow."),
    ),
    writers=(
        WriterSpec("keboola.wr-tableau", "Tableau", "Executive dashboard extract",
                   ("revenue_vs_target", "customer_health", "support_load"),
                   parameters={"server": "https://tableau.acme.example", "site": "exec",
                               "#password": "KBC::ProjectSecure::tab"}),
    ),
)

SANDBOX = DomainSpec(
    key="sandbox", project_name="Analytics Sandbox", output_bucket="sandbox_results",
    flow_name="Sandbox refresh", cron="0 9 * * 1",
    sources=(
        SourceSpec(
            "keboola.ex-http", "HTTP", "ECB exchange rates (CSV)", bucket="reference",
            description="Daily euro reference rates downloaded as CSV.",
            parameters={"baseUrl": "https://rates.example.org/", "path": "eurofxref-hist.csv"},
            tables=(
                TableSpec("exchange_rates", "rate_date:D* currency:S* rate_to_eur:F",
                          "Euro reference exchange rates, one row per day and currency."),
                TableSpec("public_holidays", "holiday_date:D* country_code:S* name:S"),
            )),
    ),
    transformations=(
        TransformSpec("Monthly average rates", "monthly_rates", ("exchange_rates",), ("currency",),
                      (("avg", "rate_to_eur"),), language="python",
                      description="Trying out a currency conversion helper before it moves to finance."),
    ),
)

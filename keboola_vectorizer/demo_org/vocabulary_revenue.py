"""Vocabulary of the revenue-side projects: CRM, e-commerce, ads & web analytics, email, billing.

Written for this project: the systems are ones data teams commonly load, the tables and columns are
ours. Descriptions sit on some objects only, as in real projects.
"""

from __future__ import annotations

from keboola_vectorizer.demo_org.spec import DomainSpec, SourceSpec, TableSpec, TransformSpec, WriterSpec

CRM = DomainSpec(
    key="crm", project_name="Sales CRM", output_bucket="crm_reporting", output_style="snake",
    output_bucket_description="Sales pipeline and account views the revenue team reads every Monday.",
    flow_name="Nightly CRM refresh", cron="15 2 * * *", shared=True,
    features=frozenset({"alias", "dev_branch", "deleted"}),
    sources=(
        SourceSpec(
            "keboola.ex-salesforce-v2", "Salesforce", "Salesforce production org", style="pascal",
            bucket="salesforce", rows="per_table", row_parameters="query",
            description="Pulls accounts, contacts and the opportunity pipeline from Salesforce every night.",
            bucket_description="Raw Salesforce objects, one table per sObject.",
            parameters={"loginname": "integration@acme-sales.example", "#password": "KBC::ProjectSecure::sf",
                        "#securitytoken": "KBC::ProjectSecure::sftoken", "sandbox": False, "apiVersion": "58.0"},
            tables=(
                TableSpec("account", "id:S* name:S industry:S billing_country:S annual_revenue:N "
                          "number_of_employees:I owner_id:S account_tier:S created_date:T is_deleted:B",
                          "Companies we sell to, one row per Salesforce account.",
                          {"account_tier": "Tier assigned by sales ops: Enterprise, Mid-Market or SMB."}),
                TableSpec("contact", "id:S* account_id:S first_name:S last_name:S email:S title:S lead_source:S "
                          "mailing_country:S created_date:T"),
                TableSpec("opportunity", "id:S* account_id:S owner_id:S name:S stage_name:S amount:N probability:F "
                          "close_date:D forecast_category:S is_won:B is_closed:B created_date:T",
                          "Deals in the sales pipeline.",
                          {"stage_name": "Sales stage from Prospecting to Closed Won or Closed Lost.",
                           "amount": "Deal value in the opportunity currency, before discounts."}),
                TableSpec("opportunity_line_item", "id:S* opportunity_id:S product_code:S quantity:I unit_price:N "
                          "total_price:N discount:F"),
                TableSpec("user", "id:S* name:S email:S role_name:S region:S is_active:B",
                          "Salesforce users: account executives, SDRs and managers."),
                TableSpec("lead", "id:S* email:S company:S status:S lead_source:S rating:S converted_date:D "
                          "is_converted:B created_date:T"),
                TableSpec("campaign", "id:S* name:S type:S status:S start_date:D end_date:D budgeted_cost:N "
                          "actual_cost:N number_of_leads:I", "Marketing campaigns as sales tracks them."),
                TableSpec("case", "id:S* account_id:S contact_id:S subject:S priority:S status:S origin:S "
                          "created_date:T closed_date:T",
                          notes={"origin": "Where the case came from: Email, Phone, Web or Partner portal."}),
            )),
        SourceSpec(
            "kds-team.ex-hubspot-crm", "HubSpot CRM", "HubSpot marketing contacts",
            description="Marketing contacts and their engagement history from HubSpot.",
            parameters={"#api_token": "KBC::ProjectSecure::hubspot", "endpoints": ["contacts", "engagements"],
                        "incremental": True},
            tables=(
                TableSpec("contacts", "vid:I* email:S lifecycle_stage:S lead_status:S first_conversion_event:S "
                          "country:S created_at:T",
                          notes={"lifecycle_stage": "HubSpot lifecycle: subscriber, lead, MQL, SQL, customer."}),
                TableSpec("engagements", "id:I* type:S contact_vid:I owner_email:S occurred_at:T duration_ms:I"),
            )),
        SourceSpec(
            "kds-team.ex-gong", "Gong", "Gong call recordings", bucket="gong", style="camel",
            description="Sales call metadata and talk-time statistics from Gong.",
            parameters={"#access_key_secret": "KBC::ProjectSecure::gong", "access_key": "GONGDEMOKEY"},
            tables=(
                TableSpec("calls", "call_id:S* title:S started_at:T duration_seconds:I direction:S "
                          "opportunity_id:S primary_user_id:S", "Recorded sales calls.",
                          {"direction": "Inbound, Outbound or Conference."}),
                TableSpec("call_stats", "call_id:S* talk_ratio:F longest_monologue_seconds:I questions_asked:I "
                          "interactivity:F patience:F"),
            )),
    ),
    transformations=(
        TransformSpec("Pipeline by stage", "pipeline_by_stage", ("opportunity", "account"),
                      ("stage_name", "industry"), (("sum", "amount"), ("count", "opportunity.id")),
                      on="account_id=id", where=("is_closed", "false"),
                      description="Open pipeline value per sales stage and industry.",
                      comment="open pipeline grouped by stage and industry"),
        TransformSpec("Won revenue by sales rep", "won_revenue_by_rep", ("opportunity", "user"),
                      ("user.name", "region"), (("sum", "amount"), ("count", "opportunity.id")),
                      on="owner_id=id", where=("is_won", "true"), language="python",
                      description="Closed-won revenue per account executive and region, for commission reports."),
        TransformSpec("Account 360", "account_360", ("account", "contact"),
                      ("account.id", "account.name", "industry", "billing_country"),
                      (("count", "contact.id"), ("max", "contact.created_date")),
                      on="id=account_id", comment="one row per account with its contact count",
                      output_description="Every account with industry, country and how many contacts we know."),
        TransformSpec("Lead conversion funnel", "lead_funnel", ("lead",), ("lead_source", "status"),
                      (("count", "id"), ("count_distinct", "company")),
                      comment="leads per source and status"),
    ),
    writers=(
        WriterSpec("keboola.wr-google-sheets", "Google Sheets", "Sales weekly sheet",
                   ("pipeline_by_stage", "won_revenue_by_rep"),
                   "Refreshes the sales leadership spreadsheet.",
                   {"spreadsheet_title": "Sales weekly", "folder": "Revenue"}),
    ),
)

ECOMMERCE = DomainSpec(
    key="ecommerce", project_name="Webshop Analytics", output_bucket="shop_marts",
    output_bucket_description="Order, product and customer marts of the online store.",
    flow_name="Webshop hourly orders", cron="5 * * * *", shared=True,
    features=frozenset({"variables", "empty_config", "typed"}),
    sources=(
        SourceSpec(
            "kds-team.ex-shopify", "Shopify", "Shopify store", bucket="shopify", prefix="shopify_",
            rows="per_table", row_parameters="endpoint",
            description="Orders, line items, products and customers of the Shopify storefront.",
            parameters={"shop": "acme-outdoor", "#api_token": "KBC::ProjectSecure::shopify",
                        "endpoints": ["orders", "products", "customers", "inventory"], "since": "2023-01-01"},
            tables=(
                TableSpec("orders", "order_id:I* customer_id:I order_number:S created_at:T financial_status:S "
                          "fulfillment_status:S currency:S subtotal_price:N total_tax:N total_discounts:N "
                          "total_price:N shipping_country:S source_name:S",
                          "Storefront orders with payment and fulfilment status.",
                          {"financial_status": "paid, pending, refunded, partially_refunded or voided.",
                           "source_name": "Sales channel: web, pos, mobile app or marketplace."}),
                TableSpec("order_lines", "line_id:I* order_id:I product_id:I variant_sku:S quantity:I price:N "
                          "discount_amount:N"),
                TableSpec("products", "product_id:I* title:S product_type:S vendor:S status:S created_at:T "
                          "tags:S", "Product catalogue."),
                TableSpec("customers", "customer_id:I* email:S first_name:S last_name:S accepts_marketing:B "
                          "orders_count:I total_spent:N country:S created_at:T"),
                TableSpec("refunds", "refund_id:I* order_id:I created_at:T amount:N reason:S"),
                TableSpec("discount_codes", "code_id:I* code:S value_type:S value:N usage_count:I starts_at:T "
                          "ends_at:T", "Promotion codes and how often each was used."),
                TableSpec("abandoned_checkouts", "checkout_id:I* email:S created_at:T total_price:N "
                          "recovered:B", notes={"recovered": "True when the customer later completed the order."}),
            )),
        SourceSpec(
            "keboola.ex-db-mysql", "MySQL", "Warehouse stock database", bucket="erp_stock", rows="per_table",
            row_parameters="table",
            description="Stock levels from the ERP's MySQL replica.",
            bucket_description="Inventory tables copied from the ERP database.",
            parameters={"db": {"host": "erp-replica.internal", "port": 3306, "database": "erp",
                               "user": "keboola_ro", "#password": "KBC::ProjectSecure::mysql"}},
            tables=(
                TableSpec("stock_levels", "sku:S* warehouse_code:S* on_hand:I reserved:I reorder_point:I "
                          "updated_at:T", notes={"reserved": "Units promised to open orders, not yet shipped."}),
                TableSpec("suppliers", "supplier_id:I* name:S country:S lead_time_days:I"),
            )),
    ),
    transformations=(
        TransformSpec("Daily sales", "daily_sales", ("orders",), ("created_at", "source_name"),
                      (("sum", "total_price", "revenue"), ("count", "order_id", "orders"),
                       ("sum", "total_discounts", "discounts")),
                      where=("financial_status", "paid"),
                      description="Revenue, order count and discounts per day and sales channel.",
                      comment="paid orders per day and channel"),
        TransformSpec("Product performance", "product_performance", ("order_lines", "products"),
                      ("products.product_id", "title", "product_type"),
                      (("sum", "quantity"), ("sum", "price"), ("count_distinct", "order_id")),
                      on="product_id=product_id", comment="units and revenue per product"),
        TransformSpec("Customer lifetime value", "customer_ltv", ("orders", "customers"),
                      ("customers.customer_id", "email", "country"),
                      (("sum", "total_price"), ("count", "order_id"), ("min", "orders.created_at")),
                      on="customer_id=customer_id", language="python",
                      description="Lifetime revenue and first order date per customer.",
                      output_description="Customer lifetime value: total spent, orders and first purchase."),
        TransformSpec("Stock cover", "stock_cover", ("stock_levels",), ("sku", "warehouse_code"),
                      (("sum", "on_hand"), ("sum", "reserved")), comment="available stock per SKU and warehouse"),
    ),
    writers=(
        WriterSpec("keboola.wr-db-snowflake", "Snowflake", "BI warehouse export",
                   ("daily_sales", "product_performance", "customer_ltv"),
                   parameters={"db": {"host": "acme.snowflakecomputing.com", "database": "BI", "schema": "SHOP",
                                      "user": "KEBOOLA_WRITER", "#password": "KBC::ProjectSecure::snow"}}),
    ),
)

ADS = DomainSpec(
    key="ads", project_name="Marketing & Web Analytics", output_bucket="marketing_mart", output_style="upper",
    flow_name="Marketing spend daily", cron="30 6 * * *",
    features=frozenset({"keboola_orchestrator"}),
    sources=(
        SourceSpec(
            "keboola.ex-google-ads", "Google Ads", "Google Ads – all accounts", prefix="gads_",
            description="Campaign and ad group performance of every Google Ads account we manage.",
            parameters={"customer_id": ["123-456-7890", "987-654-3210"], "since": "-30 days",
                        "reports": ["campaign", "ad_group"]},
            tables=(
                TableSpec("campaigns", "campaign_id:I* campaign_name:S status:S channel_type:S budget_micros:I "
                          "start_date:D", notes={"budget_micros": "Daily budget in micros of account currency."}),
                TableSpec("ad_group_stats", "ad_group_id:I* date:D* campaign_id:I impressions:I clicks:I "
                          "cost_micros:I conversions:F conversion_value:N",
                          "Daily ad group metrics: impressions, clicks, cost and conversions."),
                TableSpec("keywords", "keyword_id:I* ad_group_id:I keyword_text:S match_type:S quality_score:I "
                          "status:S"),
                TableSpec("search_terms", "search_term:S* ad_group_id:I* date:D* impressions:I clicks:I "
                          "cost_micros:I", "What people actually typed before clicking an ad."),
            )),
        SourceSpec(
            "keboola.ex-facebook-ads", "Facebook Ads", "Meta ads insights", bucket="meta_ads", prefix="fb_",
            style="snake", rows="per_table", row_parameters="endpoint",
            parameters={"accounts": {"act_1020304050": "Acme EU"}, "api_version": "v19.0"},
            tables=(
                TableSpec("ads_insights", "ad_id:S* date_start:D* campaign_name:S adset_name:S spend:N "
                          "impressions:I reach:I clicks:I purchases:I purchase_value:N",
                          "Meta (Facebook and Instagram) ad insights per ad and day."),
                TableSpec("campaigns", "id:S* name:S objective:S status:S daily_budget:N"),
            )),
        SourceSpec(
            "kds-team.ex-tiktok-ads", "TikTok Ads", "TikTok ads reporting", bucket="tiktok", prefix="tt_",
            parameters={"advertiser_ids": ["7012345678901"], "#access_token": "KBC::ProjectSecure::tiktok"},
            tables=(
                TableSpec("ad_report_daily", "ad_id:S* stat_time_day:D* campaign_name:S spend:N impressions:I "
                          "clicks:I video_views_p100:I conversions:I", "TikTok ad metrics per ad and day."),
            )),
        SourceSpec(
            "keboola.ex-google-analytics-v4", "Google Analytics 4", "GA4 web property", bucket="ga4",
            prefix="ga4_", rows="per_table", row_parameters="endpoint",
            description="Sessions, page views and conversions of the public website.",
            parameters={"property_id": "properties/305551234", "date_range": "last 14 days"},
            tables=(
                TableSpec("sessions", "session_date:D* source:S* medium:S* campaign:S sessions:I engaged_sessions:I "
                          "bounce_rate:F avg_session_duration:F"),
                TableSpec("page_views", "page_path:S* date:D* views:I users:I avg_time_on_page:F",
                          notes={"page_path": "URL path without the domain and query string."}),
                TableSpec("conversions", "event_name:S* date:D* source:S conversions:I revenue:N"),
            )),
    ),
    transformations=(
        TransformSpec("Spend by campaign", "spend_by_campaign", ("ad_group_stats", "campaigns"),
                      ("campaigns.campaign_id", "campaign_name", "date"),
                      (("sum", "cost_micros"), ("sum", "clicks"), ("sum", "impressions")),
                      on="campaign_id=campaign_id",
                      description="Google Ads cost, clicks and impressions per campaign and day.",
                      comment="google ads cost per campaign and day"),
        TransformSpec("Paid social performance", "paid_social", ("ads_insights",),
                      ("campaign_name", "date_start"), (("sum", "spend"), ("sum", "purchases"),
                                                        ("sum", "purchase_value")),
                      comment="meta spend and purchases per campaign"),
        TransformSpec("Traffic by channel", "traffic_by_channel", ("sessions",), ("session_date", "source", "medium"),
                      (("sum", "sessions"), ("avg", "bounce_rate")),
                      output_description="Website sessions and bounce rate per source / medium and day."),
        TransformSpec("Conversion attribution", "conversion_attribution", ("conversions",), ("source", "date"),
                      (("sum", "conversions"), ("sum", "revenue")), language="python",
                      description="Last-click attribution of GA4 conversions and revenue to traffic sources."),
    ),
    writers=(
        WriterSpec("keboola.wr-looker", "Looker", "Marketing dashboards",
                   ("spend_by_campaign", "paid_social", "traffic_by_channel")),
    ),
)

EMAIL = DomainSpec(
    key="email", project_name="Email Marketing", output_bucket="email_reporting", output_style="camel",
    flow_name="Newsletter stats", cron="0 7 * * 1-5",
    features=frozenset({"deleted"}),
    sources=(
        SourceSpec(
            "kds-team.ex-mailchimp", "Mailchimp", "Mailchimp audience and campaigns", style="camel",
            rows="per_table", row_parameters="endpoint",
            bucket="mailchimp", description="Lists, members, campaigns and email activity from Mailchimp.",
            parameters={"#apikey": "KBC::ProjectSecure::mc", "datacenter": "us14"},
            tables=(
                TableSpec("lists", "list_id:S* name:S member_count:I unsubscribe_count:I date_created:T"),
                TableSpec("members", "member_id:S* list_id:S email_address:S status:S member_rating:I "
                          "timestamp_opt:T country_code:S",
                          "Subscribers of every audience.",
                          {"status": "subscribed, unsubscribed, cleaned or pending (double opt-in)."}),
                TableSpec("campaigns", "campaign_id:S* list_id:S subject_line:S send_time:T emails_sent:I "
                          "campaign_type:S"),
                TableSpec("email_activity", "campaign_id:S* email_id:S* action:S* timestamp:T* url:S",
                          "Opens, clicks and bounces per recipient.",
                          {"action": "open, click or bounce."}),
                TableSpec("unsubscribes", "campaign_id:S* email_id:S* reason:S timestamp:T"),
            )),
        SourceSpec(
            "keboola.ex-sendgrid", "SendGrid", "Transactional e-mail events",
            description="Delivery events of password resets, receipts and other transactional mail.",
            parameters={"#api_key": "KBC::ProjectSecure::sendgrid", "categories": ["receipt", "password_reset"]},
            tables=(
                TableSpec("messages", "msg_id:S* to_email:S template_name:S category:S status:S sent_at:T "
                          "opens_count:I clicks_count:I"),
                TableSpec("bounces", "email:S* created:T* reason:S bounce_type:S",
                          "Hard and soft bounces reported by the receiving servers."),
                TableSpec("spam_reports", "email:S* created:T* ip:S"),
            )),
    ),
    transformations=(
        TransformSpec("Campaign engagement", "campaign_engagement", ("email_activity", "campaigns"),
                      ("campaigns.campaign_id", "subject_line", "send_time"),
                      (("count", "email_id"), ("count_distinct", "email_id")),
                      on="campaign_id=campaign_id",
                      description="Opens and clicks per newsletter: how engaging each send was.",
                      comment="open and click counts per campaign"),
        TransformSpec("Unsubscribe reasons", "unsubscribe_reasons", ("unsubscribes",), ("reason",),
                      (("count", "email_id"),), comment="why people leave the newsletter"),
        TransformSpec("Bounce monitoring", "bounce_monitoring", ("bounces",), ("bounce_type", "reason"),
                      (("count", "email"),), comment="bounced addresses per bounce type",
                      description="Watches hard bounces so the sender reputation stays healthy."),
        TransformSpec("Audience growth", "audience_growth", ("members",), ("list_id", "status"),
                      (("count", "member_id"), ("avg", "member_rating")), language="python",
                      output_description="Subscribers per audience and status, with their average rating."),
    ),
)

BILLING = DomainSpec(
    key="billing", project_name="Finance & Billing", output_bucket="finance", output_style="upper",
    output_bucket_description="Revenue, MRR and receivables for the finance team.",
    flow_name="Month-end close", cron="0 4 1 * *", shared=True,
    features=frozenset({"legacy_transformation", "orchestrator_legacy", "long_script"}),
    sources=(
        SourceSpec(
            "keboola.ex-stripe", "Stripe", "Stripe live account", bucket="stripe",
            rows="per_table", row_parameters="endpoint",
            description="Charges, invoices, subscriptions and customers from Stripe.",
            parameters={"#api_key": "KBC::ProjectSecure::stripe", "objects": ["charges", "invoices",
                        "subscriptions", "customers"], "incremental": True},
            tables=(
                TableSpec("charges", "id:S* customer:S amount:I currency:S status:S paid:B refunded:B created:T "
                          "failure_code:S", "Card charges; amounts are in cents.",
                          {"amount": "Charged amount in the smallest currency unit (cents)."}),
                TableSpec("invoices", "id:S* customer:S subscription:S amount_due:I amount_paid:I status:S "
                          "period_start:T period_end:T due_date:D"),
                TableSpec("subscriptions", "id:S* customer:S plan_id:S status:S quantity:I mrr:N "
                          "current_period_start:T canceled_at:T",
                          notes={"mrr": "Monthly recurring revenue of the subscription in EUR."}),
                TableSpec("customers", "id:S* email:S name:S country:S delinquent:B created:T"),
                TableSpec("refunds", "id:S* charge:S amount:I reason:S status:S created:T"),
                TableSpec("payouts", "id:S* amount:I currency:S arrival_date:D status:S method:S",
                          "Money Stripe sent to our bank account."),
                TableSpec("disputes", "id:S* charge:S amount:I reason:S status:S evidence_due_by:T",
                          notes={"reason": "Card network reason code: fraudulent, duplicate, product_not_received."}),
            )),
        SourceSpec(
            "kds-team.ex-xero-accounting-v2", "Xero", "Xero general ledger", bucket="xero", style="pascal",
            rows="per_table", row_parameters="endpoint",
            parameters={"tenant_id": "acme-holdings", "#refresh_token": "KBC::ProjectSecure::xero"},
            tables=(
                TableSpec("journal_lines", "journal_line_id:S* journal_date:D account_code:S account_name:S "
                          "net_amount:N tax_amount:N tracking_category:S",
                          "Every general ledger line posted in Xero."),
                TableSpec("accounts", "account_id:S* code:S name:S type:S tax_type:S status:S"),
            )),
    ),
    transformations=(
        TransformSpec("MRR by plan", "mrr_by_plan", ("subscriptions",), ("plan_id", "status"),
                      (("sum", "mrr"), ("count", "id")), where=("status", "active"),
                      description="Monthly recurring revenue and active subscriptions per plan.",
                      comment="monthly recurring revenue per plan"),
        TransformSpec("Churn by customer", "churn_by_customer", ("subscriptions",), ("customer", "canceled_at"),
                      (("count", "id", "canceled_subscriptions"), ("sum", "mrr", "lost_mrr")),
                      where=("status", "canceled"), comment="canceled subscriptions per customer and month",
                      description="Monthly churn: the subscriptions each customer canceled, and the MRR lost.",
                      output_description="Churned subscriptions and lost MRR per customer and month."),
        TransformSpec("Revenue by customer", "revenue_by_customer", ("charges", "customers"),
                      ("customers.id", "customers.name", "country"), (("sum", "amount"), ("count", "charges.id")),
                      on="customer=id", where=("paid", "true"), comment="paid charges per customer",
                      output_description="Paid revenue per Stripe customer (cents)."),
        TransformSpec("Accounts receivable aging", "ar_aging", ("invoices",), ("status", "due_date"),
                      (("sum", "amount_due"), ("sum", "amount_paid")), language="python",
                      description="Open invoices bucketed by how overdue they are."),
        TransformSpec("Chargebacks", "chargebacks", ("disputes",), ("reason", "status"),
                      (("sum", "amount"), ("count", "id")), comment="card disputes per reason",
                      output_description="Disputed (chargeback) amounts per reason and status."),
        TransformSpec("P&L by account", "pnl_by_account", ("journal_lines",), ("account_code", "account_name"),
                      (("sum", "net_amount"), ("sum", "tax_amount")),
                      comment="profit and loss per ledger account"),
    ),
    writers=(
        WriterSpec("keboola.wr-google-sheets", "Google Sheets", "CFO board pack", ("mrr_by_plan", "pnl_by_account"),
                   parameters={"spreadsheet_title": "Board pack", "folder": "Finance"}),
    ),
)

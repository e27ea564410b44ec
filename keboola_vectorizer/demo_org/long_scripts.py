"""The long scripts real projects accumulate: a taxonomy mapping hundreds of tracked events and a
revenue-recognition statement with a CASE per plan. They are longer than a document keeps, which
is the point: the document builder must clip them without losing what comes first."""

from __future__ import annotations

_OBJECTS = ("signup", "login", "profile", "project", "dashboard", "report", "invite", "billing_page", "checkout",
            "cart", "search", "filter", "export", "import", "comment", "notification", "settings", "api_key",
            "integration", "template", "workspace", "file", "folder", "tag", "calendar", "task", "chart",
            "alert", "webhook", "onboarding_step")
_VERBS = ("viewed", "clicked", "created", "updated", "deleted", "shared", "completed", "failed", "started",
          "dismissed")
_CATEGORIES = ("acquisition", "activation", "engagement", "collaboration", "monetisation", "reliability")


def event_taxonomy_script(output_table: str, input_table: str) -> str:
    """A pandas script mapping every tracked event name to a product area and lifecycle category."""
    lines = ['"""Event taxonomy: maps raw tracking-plan event names to product areas and lifecycle',
             "categories, drops internal users and writes one clean row per event.", '"""',
             "import json", "import pandas as pd", "", "EVENT_CATEGORIES = {"]
    for number, obj in enumerate(_OBJECTS):
        for verb in _VERBS:
            lines.append(f'    "{obj}_{verb}": ("{obj.replace("_", " ")}", '
                         f'"{_CATEGORIES[(number + len(verb)) % len(_CATEGORIES)]}"),')
    lines += ["}", "", "", "def area_of(event_name):",
              '    """The product area of an event, or `other` for events missing from the plan."""',
              '    return EVENT_CATEGORIES.get(event_name, ("other", "unknown"))[0]', "", "",
              "def category_of(event_name):", '    return EVENT_CATEGORIES.get(event_name, ("other", "unknown"))[1]',
              "", "", "def parse_properties(raw):", "    try:", "        return json.loads(raw) if raw else {}",
              "    except ValueError:", "        return {}", "", "",
              f'events = pd.read_csv("in/tables/{input_table}.csv")',
              'events["product_area"] = events["event_name"].map(area_of)',
              'events["lifecycle_category"] = events["event_name"].map(category_of)',
              'events["plan"] = events["properties"].map(lambda raw: parse_properties(raw).get("plan"))',
              'unknown = events[events["product_area"] == "other"]["event_name"].unique()',
              'print(f"{len(unknown)} event names are not in the tracking plan")',
              f'events.to_csv("out/tables/{output_table}.csv", index=False)']
    return "\n".join(lines) + "\n"


def revenue_recognition_sql(output_table: str, input_table: str, id_column: str, plan_column: str,
                            amount_column: str) -> str:
    """One statement that spreads each subscription's MRR over its billing period, a CASE per plan code."""
    plans = [f"{tier}_{period}_{seats}" for tier in ("starter", "team", "business", "enterprise", "partner")
             for period in ("monthly", "quarterly", "annual", "biennial") for seats in ("s", "m", "l", "xl", "unl")]
    months = {"monthly": 1, "quarterly": 3, "annual": 12, "biennial": 24}
    cases = "\n".join(f"        WHEN '{plan}' THEN {months[plan.split('_')[1]]}" for plan in plans)
    return (f"-- revenue recognition: spread every subscription evenly over the months it pays for\n"
            f'CREATE OR REPLACE TABLE "{output_table}" AS\n'
            f'WITH periods AS (\n    SELECT *,\n        CASE "{plan_column}"\n{cases}\n'
            f'        ELSE 1\n    END AS "SERVICE_MONTHS"\n    FROM "{input_table}"\n)\n'
            f'SELECT "{id_column}" AS "SUBSCRIPTION_ID", "{plan_column}" AS "PLAN_ID", "SERVICE_MONTHS",\n'
            f'    "{amount_column}" * "SERVICE_MONTHS" AS "BILLED_PER_PERIOD",\n'
            f'    "{amount_column}" AS "RECOGNISED_PER_MONTH"\nFROM periods;')

"""Naming conventions real projects mix: the vocabulary is written once in snake_case and rendered
in the style of the system a table comes from (Salesforce-like PascalCase, API camelCase, warehouse
UPPER_CASE, vendor prefixes), so search meets every spelling people actually see."""

from __future__ import annotations

from typing import Literal

Style = Literal["snake", "camel", "pascal", "upper", "kebab"]
STYLES: tuple[Style, ...] = ("snake", "camel", "pascal", "upper", "kebab")


def render(name: str, style: Style, prefix: str = "") -> str:
    """`customer_id` -> `customer_id` / `customerId` / `CustomerId` / `CUSTOMER_ID` / `customer-id`."""
    words = [w for w in name.split("_") if w]
    if style == "camel":
        text = words[0] + "".join(w.capitalize() for w in words[1:])
    elif style == "pascal":
        text = "".join(w.capitalize() for w in words)
    elif style == "upper":
        text = "_".join(words).upper()
    elif style == "kebab":
        text = "-".join(words)
    else:
        text = "_".join(words)
    return f"{prefix}{text}"


def bucket_id(stage: str, name: str) -> str:
    """Storage bucket ids: `in.c-name` / `out.c-name` (the `c-` prefix is Keboola's own)."""
    return f"{stage}.c-{name}"


def component_bucket(component_id: str, config_id: str) -> str:
    """The bucket an extractor writes to when it has no output mapping (component-style name)."""
    return f"in.c-{component_id.replace('.', '-')}-{config_id}"


def words(name: str) -> str:
    """`pipeline_by_stage` -> `pipeline by stage` (for display names and prose)."""
    return " ".join(w for w in name.replace("-", "_").split("_") if w)

"""Tolerant tool inputs: what models actually send, turned into what the engine takes.

Models send a string where a list is expected ("table", "table, column"), numbers as strings ("9001"),
and "null" or "" for "not given". The SDK already parses JSON strings (`'["a","b"]'`, `"null"`) for
non-string parameters; these helpers cover the rest, and raise ToolError with the fix otherwise.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

NULLS = ("", "null", "none", "undefined")


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in NULLS)


def text_list(value: Any) -> list[str]:
    """A list of strings from a list, one string, or a comma-separated string."""
    if is_null(value):
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [str(item).strip() for item in items if not is_null(item) and str(item).strip()]


def int_list(value: Any, name: str) -> list[int]:
    """A list of integers from numbers or numeric strings, alone, in a list or comma-separated."""
    items = value if isinstance(value, (list, tuple)) else text_list(value) if isinstance(value, str) else (
        [] if is_null(value) else [value])
    numbers: list[int] = []
    for item in items:
        if is_null(item):
            continue
        try:
            numbers.append(int(str(item).strip()))
        except ValueError:
            raise ToolError(f"{name} must be numbers like 9001, not {item!r} — see index_status for the project ids") \
                from None
    return numbers


def optional_text(value: Any) -> str | None:
    return None if is_null(value) else str(value).strip()


def bounded_int(value: Any, name: str, default: int, low: int, high: int) -> tuple[int, bool]:
    """(the integer, whether it was capped to [low, high]); a numeric string works, "null" is the default."""
    if is_null(value):
        return default, False
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ToolError(f"{name} must be a whole number between {low} and {high}, not {value!r}") from None
    capped = min(max(number, low), high)
    return capped, capped != number

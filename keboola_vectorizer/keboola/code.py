"""Transformation code: block and code names, scripts (new `blocks`/`codes` or legacy `queries`),
and the name and comments of the code that creates a given table."""

from __future__ import annotations

import re
from typing import Any

from keboola_vectorizer.keboola.text import clip

MAX_CODE_CHARS = 6000
MAX_CODE_NOTES_CHARS = 400
_SQL_COMMENT = re.compile(r"--[ \t]*([^\n]+)|/\*(.*?)\*/", re.DOTALL)


def _script_list(script: Any) -> list[str]:
    if isinstance(script, list):
        return [str(s) for s in script]
    return [script] if isinstance(script, str) else []


def _code_statements(configuration: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(code name, statements) of each code of a transformation; a legacy row's `queries` are one code."""
    parameters = configuration.get("parameters")
    blocks = parameters.get("blocks") if isinstance(parameters, dict) else None
    out: list[tuple[str, list[str]]] = []
    for block in blocks if isinstance(blocks, list) else []:
        for code in (block.get("codes") or []) if isinstance(block, dict) else []:
            if not isinstance(code, dict):
                continue
            script = code.get("script")
            statements = ([str(s) for s in script] if isinstance(script, list)
                          else str(script or "").split(";\n"))
            out.append((str(code.get("name") or block.get("name") or ""), statements))
    queries = configuration.get("queries")
    if isinstance(queries, list) and queries:
        out.append((str(configuration.get("name") or ""), [str(q) for q in queries]))
    return out


def code_blocks(configuration: dict[str, Any]) -> tuple[list[str], str]:
    """(code block names, code text) of a transformation, trimmed to a budget."""
    names: list[str] = []
    scripts: list[str] = []
    for name, statements in _code_statements(configuration):
        if name and "queries" not in configuration:
            names.append(name)
        scripts.extend(statements)
    code = "\n".join(scripts)
    code = re.sub(r"[ \t]+", " ", code)
    code = re.sub(r"\n\s*\n+", "\n", code)
    return names, clip(code, MAX_CODE_CHARS)


def _creates(statement: str, table_name: str) -> bool:
    name = re.escape(table_name)
    return bool(re.search(rf"\b(?:table|view)\s+(?:if\s+not\s+exists\s+)?[\"`']?{name}[\"`']?(?![\w.])",
                          statement, re.IGNORECASE)
                or re.search(rf"out/tables/{name}(?:\.csv)?\b", statement))


def code_notes(configuration: dict[str, Any], table_name: str) -> str:
    """Name and comments of the transformation code that creates `table_name` (its source in the job)."""
    parts: list[str] = []
    for code_name, statements in _code_statements(configuration):
        creating = [st for st in statements if table_name and _creates(st, table_name)]
        if not creating:
            continue
        comments: list[str] = []
        for statement in creating:
            for match in _SQL_COMMENT.finditer(statement):
                comment = " ".join((match.group(1) or match.group(2) or "").split()).strip("-=*#/ ")
                if len(comment) > 3 and comment not in comments:
                    comments.append(comment)
        parts.append(code_name + (f" ({'; '.join(comments)})" if comments else ""))
    return clip("; ".join(dict.fromkeys(p for p in parts if p)), MAX_CODE_NOTES_CHARS)

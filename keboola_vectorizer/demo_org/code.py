"""Transformation code that really creates its output from its inputs: a Snowflake SQL statement or
a pandas script per output, built from the same resolved columns as the output table itself, so
the code, the mappings and the table agree (that is what lineage and "created in code" read)."""

from __future__ import annotations

from dataclasses import dataclass

from keboola_vectorizer.demo_org.naming import Style, render
from keboola_vectorizer.demo_org.spec import TransformSpec
from keboola_vectorizer.demo_org.storage import BuiltTable, Column

_AGG_SQL = {"sum": "SUM", "avg": "AVG", "count": "COUNT", "min": "MIN", "max": "MAX", "count_distinct": "COUNT"}
_AGG_PANDAS = {"sum": "sum", "avg": "mean", "count": "count", "min": "min", "max": "max", "count_distinct": "nunique"}


@dataclass
class Resolved:
    """A transformation with every column reference pinned to an input table."""

    spec: TransformSpec
    inputs: list[BuiltTable]
    keys: list[tuple[int, Column, str]]  # (input index, input column, output name)
    measures: list[tuple[str, int, Column, str]]  # (agg, input index, input column, output name)
    join: tuple[Column, Column] | None
    where: tuple[int, Column, str] | None
    output_name: str
    output_columns: list[Column]


def _find(inputs: list[BuiltTable], reference: str) -> tuple[int, Column]:
    table_key, _, column_key = reference.rpartition(".")
    for index, built in enumerate(inputs):
        if table_key and table_key not in (built.key, built.name):
            continue
        column = built.column(column_key)
        if column is not None:
            return index, column
    raise KeyError(f"{reference} is in none of {[t.key for t in inputs]}")


def _measure_name(agg: str, column: Column, table: BuiltTable) -> str:
    base = column.key.removesuffix("_id") if column.key != "id" else table.key
    if agg == "count":
        return f"{base}_count"
    if agg == "count_distinct":
        return f"distinct_{base}_count"
    if agg in ("min", "max") and column.basetype in ("DATE", "TIMESTAMP"):
        return f"{'first' if agg == 'min' else 'last'}_{column.key}"
    return f"{ {'sum': 'total', 'avg': 'avg', 'min': 'min', 'max': 'max'}[agg]}_{column.key}"


def resolve(spec: TransformSpec, inputs: list[BuiltTable], style: Style) -> Resolved:
    keys, columns, taken = [], [], set()
    for reference in spec.keys:
        index, column = _find(inputs, reference)
        key = column.key if column.key not in taken else f"{inputs[index].key}_{column.key}"
        taken.add(key)
        keys.append((index, column, render(key, style)))
        columns.append(Column(key, render(key, style), column.basetype))
    measures = []
    for agg, reference, *alias in spec.measures:
        index, column = _find(inputs, reference)
        key = alias[0] if alias else _measure_name(agg, column, inputs[index])
        basetype = ("INTEGER" if agg.startswith("count") else "NUMERIC" if agg in ("sum", "avg")
                    and column.basetype != "FLOAT" else column.basetype)
        measures.append((agg, index, column, render(key, style)))
        columns.append(Column(key, render(key, style), basetype))
    join = None
    if spec.on and len(inputs) > 1:
        left, right = spec.on.split("=")
        join = (_find(inputs[:1], left)[1], _find(inputs[1:], right)[1])
    where = None
    if spec.where[0]:
        index, column = _find(inputs, spec.where[0])
        where = (index, column, spec.where[1])
    return Resolved(spec, inputs, keys, measures, join, where, render(spec.output, style), columns)


def _aliases(inputs: list[BuiltTable]) -> list[str]:
    out: list[str] = []
    for built in inputs:
        alias = "".join(w[0] for w in built.key.split("_") if w) or "t"
        while alias in out:
            alias += str(len(out))
        out.append(alias)
    return out


def _literal(value: str, basetype: str) -> str:
    if basetype in ("BOOLEAN", "INTEGER", "NUMERIC", "FLOAT"):
        return value.upper() if basetype == "BOOLEAN" else value
    return "'" + value.replace("'", "''") + "'"


def sql(resolved: Resolved) -> list[str]:
    """One CREATE OR REPLACE TABLE statement (with its comment) per output, as Snowflake blocks hold them."""
    names = _aliases(resolved.inputs)
    select = [f'    {names[i]}."{c.name}" AS "{out}"' for i, c, out in resolved.keys]
    for agg, i, column, out in resolved.measures:
        inner = f'DISTINCT {names[i]}."{column.name}"' if agg == "count_distinct" else f'{names[i]}."{column.name}"'
        select.append(f'    {_AGG_SQL[agg]}({inner}) AS "{out}"')
    lines = [f"-- {resolved.spec.comment or resolved.spec.name}",
             f'CREATE OR REPLACE TABLE "{resolved.output_name}" AS', "SELECT", ",\n".join(select),
             f'FROM "{resolved.inputs[0].name}" AS {names[0]}']
    if resolved.join:
        left, right = resolved.join
        lines.append(f'JOIN "{resolved.inputs[1].name}" AS {names[1]} '
                     f'ON {names[1]}."{right.name}" = {names[0]}."{left.name}"')
    if resolved.where:
        i, column, value = resolved.where
        lines.append(f'WHERE {names[i]}."{column.name}" = {_literal(value, column.basetype)}')
    if resolved.keys:
        lines.append("GROUP BY " + ", ".join(str(n + 1) for n in range(len(resolved.keys))))
    return ["\n".join(lines) + ";"]


def python(resolved: Resolved) -> str:
    """A pandas script: read the input CSVs, join, filter, aggregate, write the output CSV."""
    frames = [t.name.replace("-", "_").lower() for t in resolved.inputs]
    left_names = {c.name for c in resolved.inputs[0].columns}

    def in_frame(index: int, column: Column) -> str:
        if index > 0 and column.name in left_names:
            return f"{column.name}_{frames[index]}"
        return column.name

    lines = [f'"""{resolved.spec.description or resolved.spec.name}"""', "import pandas as pd", ""]
    lines += [f'{frame} = pd.read_csv("in/tables/{t.name}.csv")'
              for frame, t in zip(frames, resolved.inputs, strict=True)]
    lines.append(f"df = {frames[0]}")
    if resolved.join:
        left, right = resolved.join
        lines.append(f'df = df.merge({frames[1]}, left_on="{left.name}", right_on="{right.name}", '
                     f'suffixes=("", "_{frames[1]}"))')
    if resolved.where:
        i, column, value = resolved.where
        literal = value.capitalize() if column.basetype == "BOOLEAN" else _literal(value, column.basetype)
        lines.append(f'df = df[df["{in_frame(i, column)}"] == {literal}]')
    group = ", ".join(f'"{in_frame(i, c)}"' for i, c, _ in resolved.keys)
    lines.append(f"result = df.groupby([{group}], as_index=False).agg(")
    for agg, i, column, out in resolved.measures:
        lines.append(f'    {out.replace("-", "_")}=("{in_frame(i, column)}", "{_AGG_PANDAS[agg]}"),')
    lines.append(")")
    lines.append(f"result.columns = {[c.name for c in resolved.output_columns]!r}")
    lines.append(f'result.to_csv("out/tables/{resolved.output_name}.csv", index=False)')
    return "\n".join(lines) + "\n"

"""Build one project of a domain: buckets and tables of its sources, transformations whose outputs
are real tables, writers, and (extras.py) the rarer shapes. Returns Storage API JSON plus counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.demo_org import code, configurations, storage
from keboola_vectorizer.demo_org.naming import component_bucket, render, words
from keboola_vectorizer.demo_org.spec import DomainSpec, SourceSpec, TableSpec, TransformSpec
from keboola_vectorizer.demo_org.stamps import Stamps
from keboola_vectorizer.demo_org.storage import BuiltTable, Column

VARIANT_SUFFIXES = ("history", "snapshot", "daily", "archive", "staging", "eu", "us", "apac", "backup", "v2")
CREATORS = ("anna.novak@acme.example", "j.smith@acme.example", "data-platform@acme.example",
            "marek.dvorak@acme.example", "priya.raman@acme.example", "etl-bot@acme.example")


@dataclass
class Shared:
    """A project's shared output bucket, as other projects of the organisation can link it."""

    project: dict[str, Any]
    bucket: dict[str, Any]
    tables: list[BuiltTable]


@dataclass
class ProjectPlan:
    project_id: int
    name: str
    domain: DomainSpec
    stack_url: str
    tables_per_project: int | None = None


@dataclass
class BuiltProject:
    plan: ProjectPlan
    stamps: Stamps
    default_branch_id: int
    branches: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    tables: list[BuiltTable] = field(default_factory=list)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, BuiltTable] = field(default_factory=dict)
    dev_bucket_ids: set[str] = field(default_factory=set)
    # (component id, config id, label) per stage, for the flows
    extractors: list[tuple[str, str, str]] = field(default_factory=list)
    transformations: list[tuple[str, str, str]] = field(default_factory=list)
    writers: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ref(self) -> dict[str, Any]:
        return {"id": self.plan.project_id, "name": self.plan.name}

    def creator(self) -> str:
        return self.stamps.rng.choice(CREATORS)

    def add(self, component_id: str, name: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
        holder = self.components.setdefault(component_id, configurations.component(component_id, name, kind))
        holder["configurations"].append(config)
        return config

    def add_bucket(self, stage: str, name: str, **kwargs: Any) -> dict[str, Any]:
        body = storage.bucket(self.plan.stack_url, self.stamps, stage, name,
                              branch_id=self.default_branch_id, **kwargs)
        self.buckets.append(body)
        return body

    def add_table(self, built: BuiltTable, *, key: str | None = None) -> BuiltTable:
        self.tables.append(built)
        self.by_key.setdefault(key or built.key, built)
        return built

    def config_id(self, name: str) -> str:
        return self.stamps.config_id(name)

    def configuration(self, name: str, body: Any, **kwargs: Any) -> dict[str, Any]:
        """A configuration named `name` with an id derived from it, created by one of the project's people."""
        kwargs.setdefault("creator", self.creator())
        return configurations.configuration(self.stamps, self.config_id(name), name, body, **kwargs)


def source_tables(domain: DomainSpec, wanted: int | None) -> list[list[TableSpec]]:
    """The tables of each source: the vocabulary's, cut or extended with variants to about `wanted`
    tables per project in all (outputs of transformations count too)."""
    natural = [list(source.tables) for source in domain.sources]
    if wanted is None:
        return natural
    target = max(1, wanted - len(domain.transformations))
    flat = [(n, t) for n, tables in enumerate(natural) for t in tables]
    chosen: list[list[TableSpec]] = [[] for _ in natural]
    for position in range(target):
        source, spec = flat[position % len(flat)]
        round_ = position // len(flat)
        if round_:
            suffix = VARIANT_SUFFIXES[(round_ - 1) % len(VARIANT_SUFFIXES)]
            if round_ > len(VARIANT_SUFFIXES):
                suffix += f"_{(round_ - 1) // len(VARIANT_SUFFIXES) + 1}"
            spec = TableSpec(f"{spec.name}_{suffix}", spec.columns.replace("*", "") + " snapshot_date:D",
                             notes=spec.notes)
        chosen[source].append(spec)
    return chosen


def _columns(spec: TableSpec, style: str) -> tuple[list[Column], list[str]]:
    columns = [Column(c.name, render(c.name, style), c.basetype) for c in spec.parsed]  # type: ignore[arg-type]
    primary_key = [render(c.name, style) for c in spec.parsed if c.primary_key]  # type: ignore[arg-type]
    return columns, primary_key


def _row_parameters(source: SourceSpec, spec: TableSpec, built: BuiltTable, primary_key: list[str]) -> dict:
    if source.row_parameters == "query":
        obj = render(spec.name, "pascal") if source.style == "pascal" else spec.name
        query = f"SELECT {', '.join(c.name for c in built.columns)} FROM {obj}"
        return {"query": query, "outputTable": built.id, "incremental": True, "primaryKey": primary_key}
    if source.row_parameters == "table":
        return {"table": {"schema": "public", "tableName": spec.name}, "columns": [c.name for c in built.columns],
                "outputTable": built.id, "primaryKey": primary_key, "incremental": False}
    return {"endpoint": spec.name, "fields": [c.name for c in built.columns], "outputTable": built.id,
            "incremental": True}


def build_sources(project: BuiltProject, tables_by_source: list[list[TableSpec]]) -> None:
    domain = project.plan.domain
    for number, (source, specs) in enumerate(zip(domain.sources, tables_by_source, strict=True)):
        if not specs:
            continue
        config_id = project.config_id(source.config_name)
        if source.bucket:
            bucket = project.add_bucket("in", source.bucket, description=source.bucket_description)
        else:
            name = component_bucket(source.component_id, config_id).split(".c-", 1)[1]
            bucket = project.add_bucket("in", name, description=source.bucket_description)
        rows = []
        typed = "typed" in domain.features and number == 0
        for position, spec in enumerate(specs):
            columns, primary_key = _columns(spec, source.style)
            name = render(spec.name, source.style if source.style != "upper" else "upper", source.prefix)
            built = project.add_table(storage.table(
                project.plan.stack_url, project.stamps, bucket, spec.name, name, columns,
                primary_key=primary_key, provider=source.component_id, description=spec.description,
                notes=spec.notes, typed=typed, updated_by=(source.component_id, config_id)))
            if source.rows == "per_table":
                rows.append(configurations.row(
                    project.stamps, words(spec.name).title(), {"parameters": _row_parameters(
                        source, spec, built, primary_key)},
                    description=spec.description if position % 2 else "",
                    disabled=position == len(specs) - 1 and len(specs) > 3))
        body: dict[str, Any] = {"parameters": dict(source.parameters)}
        if source.bucket and source.rows == "none":
            body["parameters"]["outputBucket"] = bucket["id"]
        project.add(source.component_id, source.component_name, "extractor", configurations.configuration(
            project.stamps, config_id, source.config_name, body, description=source.description,
            creator=project.creator(), rows=rows))
        project.extractors.append((source.component_id, config_id, source.config_name))


def _inputs(project: BuiltProject, spec: TransformSpec) -> list[BuiltTable] | None:
    found = [project.by_key.get(key) for key in spec.inputs]
    return None if any(t is None for t in found) else found  # type: ignore[return-value]


def build_transformations(project: BuiltProject, output_bucket: dict[str, Any]) -> None:
    domain = project.plan.domain
    for spec in domain.transformations:
        inputs = _inputs(project, spec)
        if inputs is None:
            continue  # a smaller benchmark project lacks one of its inputs
        resolved = code.resolve(spec, inputs, domain.output_style)
        component_id, component_name = (configurations.PYTHON if spec.language == "python"
                                        else configurations.SNOWFLAKE)
        config_id = project.config_id(spec.name)
        primary_key = [name for _, _, name in resolved.keys]
        project.add_table(storage.table(
            project.plan.stack_url, project.stamps, output_bucket, spec.output, resolved.output_name,
            resolved.output_columns, primary_key=primary_key, provider=component_id,
            description=spec.output_description, updated_by=(component_id, config_id)))
        output_id = f"{output_bucket['id']}.{resolved.output_name}"
        if spec.language == "python":
            blocks = [("Main", [(spec.name, [code.python(resolved)])])]
            inputs_map = [(t.id, f"{t.name}.csv") for t in inputs]
            outputs_map = [(f"{resolved.output_name}.csv", output_id, primary_key)]
        else:
            blocks = [("Build", [(spec.name, code.sql(resolved))])]
            inputs_map = [(t.id, t.name) for t in inputs]
            outputs_map = [(resolved.output_name, output_id, primary_key)]
        body = configurations.transformation_body(blocks, inputs_map, outputs_map,
                                                  packages=["pandas"] if spec.language == "python" else None)
        project.add(component_id, component_name, "transformation", configurations.configuration(
            project.stamps, config_id, spec.name, body, description=spec.description, creator=project.creator()))
        project.transformations.append((component_id, config_id, spec.name))


def build_writers(project: BuiltProject) -> None:
    for spec in project.plan.domain.writers:
        tables = [project.by_key[key] for key in spec.inputs if key in project.by_key]
        if not tables:
            continue
        config_id = project.config_id(spec.config_name)
        body = configurations.writer_body([(t.id, t.name, [c.name for c in t.columns]) for t in tables],
                                          dict(spec.parameters))
        project.add(spec.component_id, spec.component_name, "writer", configurations.configuration(
            project.stamps, config_id, spec.config_name, body, description=spec.description,
            creator=project.creator()))
        project.writers.append((spec.component_id, config_id, spec.config_name))

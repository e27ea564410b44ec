"""The rarer shapes real projects carry: linked buckets, alias tables, dev-branch buckets, a long
script, legacy `transformation` rows with `queries`, variables, `"configuration": []`, deleted and
unicode-named configurations, and the flows and schedules that run everything."""

from __future__ import annotations

from typing import Any

from keboola_vectorizer.demo_org import configurations, flows, storage
from keboola_vectorizer.demo_org.long_scripts import event_taxonomy_script, revenue_recognition_sql
from keboola_vectorizer.demo_org.naming import render
from keboola_vectorizer.demo_org.project import BuiltProject, Shared
from keboola_vectorizer.demo_org.storage import Column


def link_shared_buckets(project: BuiltProject, shared: dict[str, Shared]) -> None:
    """A read-only linked bucket per project whose shared tables this one reads (`domain:table` inputs)."""
    wanted = {key.split(":", 1)[0] for spec in project.plan.domain.transformations for key in spec.inputs
              if ":" in key}
    for domain_key in sorted(wanted):
        source = shared.get(domain_key)
        if source is None:
            continue
        linked_name = f"shared-{domain_key}"
        bucket = project.add_bucket("in", linked_name, description=source.bucket.get("description", ""),
                                    display=f"{source.project['name']} (shared)", extra={
                                        "isReadOnly": True, "sourceBucket": {
                                            "id": source.bucket["id"], "name": source.bucket["name"],
                                            "description": source.bucket.get("description", ""),
                                            "project": source.project}})
        source.bucket.setdefault("linkedBy", []).append(
            {"id": bucket["id"], "created": project.stamps.time(), "project": project.ref})
        for table in source.tables:
            alias = storage.alias(project.plan.stack_url, project.stamps, bucket, table, table.name,
                                  source.project)
            project.add_table(alias, key=f"{domain_key}:{table.key}")


def add_alias(project: BuiltProject, output_bucket: dict[str, Any]) -> None:
    first = next((t for t in project.tables if t.id.startswith("in.")), None)
    if first is not None:
        name = render(f"{first.key}_latest", project.plan.domain.output_style)
        project.add_table(storage.alias(project.plan.stack_url, project.stamps, output_bucket, first, name,
                                        project.ref))


def add_dev_branch(project: BuiltProject) -> None:
    """A dev branch with its own copy of an input bucket (`in.c-<branch id>-<name>`), as branch storage
    prefixes it."""
    branch_id = project.default_branch_id + 7
    project.branches.append({"id": branch_id, "name": "feature/new-attribution", "description":
                             "Trying a new model before it goes to production", "created": project.stamps.time(),
                             "isDefault": False, "creatorToken": {"id": 1, "name": project.creator()}})
    sources = [t for t in project.tables if t.id.startswith("in.") and not t.body.get("isAlias")]
    if not sources:
        return
    original = sources[0].body["bucket"]
    name = f"{branch_id}-{original['name'][2:]}"
    bucket = project.add_bucket("in", name, description=f"Dev branch copy of {original['id']}.")
    project.dev_bucket_ids.add(bucket["id"])
    for source in sources[:2]:
        project.add_table(storage.table(
            project.plan.stack_url, project.stamps, bucket, source.key, source.name, source.columns,
            primary_key=list(source.body["primaryKey"]), provider="user",
            extra_metadata=[("KBC.createdBy.branch.id", str(branch_id))]), key=f"dev:{source.key}")


def add_long_script(project: BuiltProject, output_bucket: dict[str, Any]) -> None:
    domain = project.plan.domain
    if domain.key == "product" and "events" in project.by_key:
        source = project.by_key["events"]
        component_id, component_name = configurations.PYTHON
        name = "categorised_events"
        script = [event_taxonomy_script(name, source.name)]
        columns = [*source.columns, Column("product_area", "product_area", "STRING"),
                   Column("lifecycle_category", "lifecycle_category", "STRING"), Column("plan", "plan", "STRING")]
        inputs, outputs = [(source.id, f"{source.name}.csv")], [(f"{name}.csv", f"{output_bucket['id']}.{name}")]
        title = "Event taxonomy"
    elif domain.key == "billing" and "subscriptions" in project.by_key:
        source = project.by_key["subscriptions"]
        component_id, component_name = configurations.SNOWFLAKE
        name = "REVENUE_SCHEDULE"
        script = [revenue_recognition_sql(name, source.name, source.column("id").name,  # type: ignore[union-attr]
                                          source.column("plan_id").name, source.column("mrr").name)]  # type: ignore[union-attr]
        columns = [Column(k.lower(), k, t) for k, t in (
            ("SUBSCRIPTION_ID", "STRING"), ("PLAN_ID", "STRING"), ("SERVICE_MONTHS", "INTEGER"),
            ("BILLED_PER_PERIOD", "NUMERIC"), ("RECOGNISED_PER_MONTH", "NUMERIC"))]
        inputs, outputs = [(source.id, source.name)], [(name, f"{output_bucket['id']}.{name}")]
        title = "Revenue recognition schedule"
    else:
        return
    config_id = project.config_id(title)
    project.add_table(storage.table(project.plan.stack_url, project.stamps, output_bucket, name.lower(), name,
                                    columns, primary_key=[], provider=component_id,
                                    updated_by=(component_id, config_id)))
    body = configurations.transformation_body([("Main", [(title, script)])], inputs,
                                              [(s, d, []) for s, d in outputs])
    project.add(component_id, component_name, "transformation", configurations.configuration(
        project.stamps, config_id, title, body, creator=project.creator()))
    project.transformations.append((component_id, config_id, title))


def add_legacy_transformation(project: BuiltProject) -> None:
    """The legacy `transformation` component: an empty bucket configuration whose rows hold the code."""
    inputs = [t for t in project.tables if t.id.startswith("in.") and not t.body.get("isAlias")][:2]
    rows = []
    for phase, table in enumerate(inputs, start=1):
        out_name = f"legacy_{table.key}_monthly"
        first_column = table.columns[0].name
        rows.append(configurations.row(project.stamps, f"Monthly {table.key.replace('_', ' ')} (legacy)", {
            "backend": "snowflake", "type": "simple", "phase": phase, "disabled": False, "packages": [],
            "requires": [], "name": f"Monthly {table.key} (legacy)",
            "description": "Kept until the finance team signs off the new model.",
            "input": [{"source": table.id, "destination": table.name}],
            "output": [{"source": out_name, "destination": f"out.c-legacy.{out_name}", "primaryKey": []}],
            "queries": [f'CREATE TABLE "{out_name}" AS SELECT DATE_TRUNC(\'month\', CURRENT_DATE) AS "month", '
                        f'COUNT("{first_column}") AS "records" FROM "{table.name}";']}))
    if rows:
        project.add("transformation", "Transformations (legacy)", "transformation", project.configuration(
            "Finance legacy bucket", {}, rows=rows,
            description="Legacy transformations still run by the old orchestrator."))


def add_variables(project: BuiltProject) -> None:
    definition, values = flows.variables([("date_from", "-30 days"), ("date_to", "today"), ("currency", "EUR")])
    project.add("keboola.variables", "Variables", "other", project.configuration(
        "Reporting window", definition, rows=[configurations.row(project.stamps, "Default values", values)]))


def add_empty_configuration(project: BuiltProject) -> None:
    project.add("keboola.sandboxes", "Workspaces", "other", project.configuration("Analyst scratch workspace", []))


def add_deleted_configuration(project: BuiltProject) -> None:
    component_id, component_name = configurations.SNOWFLAKE
    project.add(component_id, component_name, "transformation", project.configuration(
        "Old churn model (do not use)", {"parameters": {"blocks": []}}, deleted=True, disabled=True))


def add_unicode_configuration(project: BuiltProject) -> None:
    tables = [t for t in project.tables if t.id.startswith("out.")][:1]
    component_id, component_name = configurations.SNOWFLAKE
    script = [f'-- kontrola: počet řádků přehledu\nSELECT COUNT(*) AS "počet" FROM "{t.name}";' for t in tables]
    body = configurations.transformation_body([("Kontroly", [("Počet řádků", script)])],
                                              [(t.id, t.name) for t in tables], [])
    project.add(component_id, component_name, "transformation", project.configuration(
        "Mzdové náklady – měsíční kontrola", body,
        description="Kontrola, že přehled mezd obsahuje data za celý měsíc. Überprüfung für die Lohnbuchhaltung."))


def add_flows(project: BuiltProject) -> None:
    domain = project.plan.domain
    phases = [(name, tasks) for name, tasks in (("Extract", project.extractors),
                                                ("Transform", project.transformations),
                                                ("Load", project.writers)) if tasks]
    if not phases:
        return
    disabled = {project.transformations[-1][1]} if len(project.transformations) > 2 else set()
    body = flows.keboola_flow(project.stamps, phases, notify=f"data-alerts+{domain.key}@acme.example",
                              disabled=disabled)
    flow_id = project.add("keboola.flow", "Flow", "other", project.configuration(
        domain.flow_name, body,
        description=f"Runs every {domain.project_name} job in order and alerts the owners on failure."))["id"]
    schedules = [("keboola.flow", flow_id, domain.flow_name, domain.cron)]
    if "keboola_orchestrator" in domain.features:
        orchestration_id = project.add("keboola.orchestrator", "Orchestrator", "other", project.configuration(
            "Weekly full reload", flows.keboola_orchestrator(project.stamps, phases, disabled=disabled)))["id"]
        schedules.append(("keboola.orchestrator", orchestration_id, "Weekly full reload", "0 3 * * 0"))
    if "orchestrator_legacy" in domain.features:
        project.add("orchestrator", "Orchestrator (legacy)", "other", project.configuration(
            "Month-end (legacy orchestration)", flows.legacy_orchestrator(project.stamps, phases)))
    for component_id, config_id, name, cron in schedules:
        project.add("keboola.scheduler", "Scheduler", "other", project.configuration(
            f"Schedule: {name}", flows.schedule(cron, component_id, config_id)))


def add_snapshots(project: BuiltProject, limit: int = 5) -> None:
    """Point-in-time copies of the first input tables, one SQL code per table (a block of several codes)."""
    sources = [t for t in project.tables if t.id.startswith("in.") and not t.body.get("isAlias")][:limit]
    if not sources:
        return
    bucket = project.add_bucket("out", "snapshots", description="Daily point-in-time copies of source tables."
                                if project.stamps.rng.random() < 0.5 else "")
    component_id, component_name = configurations.SNOWFLAKE
    config_id = project.config_id("Daily snapshots")
    codes, outputs = [], []
    for source in sources:
        name = f"{source.name}_snapshot"
        project.add_table(storage.table(
            project.plan.stack_url, project.stamps, bucket, f"{source.key}_snapshot", name,
            [*source.columns, Column("snapshot_date", "snapshot_date", "DATE")], primary_key=[],
            provider=component_id, updated_by=(component_id, config_id)))
        codes.append((f"Snapshot {source.name}", [
            f"-- daily copy of {source.name} kept for point-in-time reporting\n"
            f'CREATE TABLE IF NOT EXISTS "{name}" AS SELECT *, CURRENT_DATE() AS "snapshot_date" '
            f'FROM "{source.name}" WHERE 1 = 0;',
            f'INSERT INTO "{name}" SELECT *, CURRENT_DATE() FROM "{source.name}";']))
        outputs.append((name, f"{bucket['id']}.{name}", []))
    body = configurations.transformation_body([("Snapshots", codes)], [(t.id, t.name) for t in sources], outputs)
    project.add(component_id, component_name, "transformation", configurations.configuration(
        project.stamps, config_id, "Daily snapshots", body, creator=project.creator(),
        description="Keeps a dated copy of the main source tables every day." if len(sources) > 2 else ""))
    project.transformations.append((component_id, config_id, "Daily snapshots"))

"""Plan an organisation (which domain each project is, its id, name and stack), build each project
and write it in the snapshot layout, one cycle of domains at a time so memory stays bounded at any
size. The summary is computed from what was written: it is the expected-counts source for tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keboola_vectorizer.demo_org import extras, project
from keboola_vectorizer.demo_org.project import BuiltProject, ProjectPlan, Shared
from keboola_vectorizer.demo_org.summary import OrganisationSummary, ProjectSummary, count_project
from keboola_vectorizer.demo_org.vocabulary_operations import HR, LOGISTICS, PRODUCT, REPORTING, SANDBOX, SUPPORT
from keboola_vectorizer.demo_org.vocabulary_revenue import ADS, BILLING, CRM, ECOMMERCE, EMAIL

# Every organisation has a small sandbox project too; tests use it where a whole project must be quick.
DOMAINS = (CRM, ECOMMERCE, ADS, EMAIL, BILLING, SUPPORT, PRODUCT, HR, LOGISTICS, REPORTING, SANDBOX)
FIRST_PROJECT_ID = 3001
DEFAULT_STACK = "https://connection.keboola.com"
STACKS = {"hr": "https://connection.eu-central-1.keboola.com"}
REGIONS = ("EMEA", "Americas", "APAC", "Nordics", "DACH", "UK & Ireland", "Iberia", "CEE", "LATAM", "ANZ")


def plans(projects: int, tables_per_project: int | None) -> list[ProjectPlan]:
    out = []
    for index in range(projects):
        domain = DOMAINS[index % len(DOMAINS)]
        cycle = index // len(DOMAINS)
        name = domain.project_name
        if cycle:
            name += f" – {REGIONS[(cycle - 1) % len(REGIONS)]}"
            if cycle > len(REGIONS):
                name += f" {(cycle - 1) // len(REGIONS) + 1}"
        out.append(ProjectPlan(FIRST_PROJECT_ID + index, name, domain, STACKS.get(domain.key, DEFAULT_STACK),
                               tables_per_project))
    return out


def build(plan: ProjectPlan, seed: int, shared: dict[str, Shared]) -> BuiltProject:
    domain = plan.domain
    built = BuiltProject(plan, project.Stamps(f"{seed}-{plan.project_id}"), plan.project_id * 10 + 1)
    built.branches.append({"id": built.default_branch_id, "name": "Main", "description": "",
                           "created": built.stamps.time(), "isDefault": True,
                           "creatorToken": {"id": 1, "name": built.creator()}})
    project.build_sources(built, project.source_tables(domain, plan.tables_per_project))
    if "linked" in domain.features:
        extras.link_shared_buckets(built, shared)
    output_bucket = built.add_bucket("out", domain.output_bucket, description=domain.output_bucket_description,
                                     extra={"sharing": "organization"} if domain.shared else None)
    project.build_transformations(built, output_bucket)
    if "linked" not in domain.features:
        extras.add_snapshots(built)
    if "long_script" in domain.features:
        extras.add_long_script(built, output_bucket)
    if "alias" in domain.features:
        extras.add_alias(built, output_bucket)
    project.build_writers(built)
    if "legacy_transformation" in domain.features:
        extras.add_legacy_transformation(built)
    if "variables" in domain.features:
        extras.add_variables(built)
    if "empty_config" in domain.features:
        extras.add_empty_configuration(built)
    if "unicode" in domain.features:
        extras.add_unicode_configuration(built)
    if "deleted" in domain.features:
        extras.add_deleted_configuration(built)
    extras.add_flows(built)
    if "dev_branch" in domain.features:
        extras.add_dev_branch(built)
    if domain.shared:
        shared[domain.key] = Shared(built.ref, output_bucket,
                                    [t for t in built.tables if t.id.startswith(output_bucket["id"] + ".")])
    return built


def token(plan: ProjectPlan, seed: int) -> str:
    rng = random.Random(f"token-{seed}-{plan.project_id}")
    return f"{plan.project_id}-{rng.randrange(100_000, 999_999)}-demo{rng.getrandbits(120):030x}"


def files(built: BuiltProject) -> dict[str, Any]:
    """The five files of a project folder, exactly as the Storage API answers."""
    plan = built.plan
    owner = {"id": plan.project_id, "name": plan.name, "type": "production", "region": "eu-central-1"
             if "eu-central-1" in plan.stack_url else "us-east-1", "created": built.stamps.time(), "expires": None,
             "features": ["queuev2"], "dataSizeBytes": sum(t.body["dataSizeBytes"] for t in built.tables),
             "rowsCount": sum(t.body["rowsCount"] for t in built.tables), "hasSnowflake": True,
             "defaultBackend": "snowflake", "limits": {}, "metrics": {}, "isDisabled": False,
             "dataRetentionTimeInDays": 7, "fileStorageProvider": "aws"}
    verify_body = {"id": str(built.stamps.rng.randrange(100_000, 999_999)), "token": None,
                   "description": "Demo organisation master token", "created": built.stamps.time(),
                   "uri": f"{plan.stack_url}/v2/storage/tokens", "isMasterToken": True, "canManageBuckets": True,
                   "canManageTokens": True, "canReadAllFileUploads": True, "canPurgeTrash": True,
                   "expires": None, "isExpired": False, "isDisabled": False, "dailyCapacity": 0,
                   "bucketPermissions": {b["id"]: "manage" for b in built.buckets}, "owner": owner,
                   "organization": {"id": 3000, "name": "Acme Demo Organisation"},
                   "admin": {"id": 42, "name": "Demo Admin", "features": [], "isOrganizationMember": True,
                             "role": "admin"}}
    return {"tokens-verify.json": verify_body, "dev-branches.json": built.branches, "buckets.json": built.buckets,
            "tables.json": [t.body for t in built.tables], "components.json": list(built.components.values())}


def _write(path: Path, data: Any, indent: int | None) -> None:
    """Indented exactly as `extract` writes snapshots (so extracting the fake's answers reproduces the
    files byte for byte), or compact for benchmark sizes."""
    if indent is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(data, ensure_ascii=False, indent=indent) + "\n"
    path.write_text(text, encoding="utf-8")


def iter_cycles(all_plans: list[ProjectPlan]) -> Iterator[list[ProjectPlan]]:
    for start in range(0, len(all_plans), len(DOMAINS)):
        yield all_plans[start:start + len(DOMAINS)]


def write(out_dir: Path, *, seed: int, projects: int, tables_per_project: int | None,
          compact: bool) -> OrganisationSummary:
    out_dir.mkdir(parents=True, exist_ok=True)
    indent = None if compact else 1
    entries, summaries = [], []
    for cycle in iter_cycles(plans(projects, tables_per_project)):
        shared: dict[str, Shared] = {}
        # A cycle is written only once built: later projects add `linkedBy` to earlier shared buckets.
        built_cycle = [build(plan, seed, shared) for plan in cycle]
        for built in built_cycle:
            folder = out_dir / str(built.plan.project_id)
            folder.mkdir(exist_ok=True)
            for name, data in files(built).items():
                _write(folder / name, data, indent)
            project_token = token(built.plan, seed)
            entries.append({"id": built.plan.project_id, "name": built.plan.name, "token": project_token,
                            "stack_url": built.plan.stack_url, "domain": built.plan.domain.key})
            summaries.append(ProjectSummary(built.plan.project_id, built.plan.name, built.plan.domain.key,
                                            project_token, built.plan.stack_url, *count_project(built)))
    _write(out_dir / "projects.json", entries, 1)
    summary = OrganisationSummary(out_dir, seed, tuple(summaries))
    _write(out_dir / "generated.json", summary.to_json(), 1)
    return summary


def project_sizes(tables_per_project: int | None, seed: int = 0) -> list[int]:
    """Documents of each domain's project at this size (built in memory, not written): a project's
    size does not depend on its cycle, so this plans organisations of any size exactly."""
    shared: dict[str, Shared] = {}
    sizes = []
    for plan in plans(len(DOMAINS), tables_per_project):
        documents, _, _ = count_project(build(plan, seed, shared))
        sizes.append(sum(documents.values()))
    return sizes


def projects_for(documents: int, tables_per_project: int | None = None) -> int:
    """How many projects bring an organisation closest to `documents` documents."""
    sizes = project_sizes(tables_per_project)
    total, count, best = 0, 0, (documents, 0)
    while total < documents:
        total += sizes[count % len(sizes)]
        count += 1
        best = min(best, (abs(total - documents), count))
    return max(1, best[1])

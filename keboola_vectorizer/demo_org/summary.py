"""What a generated organisation holds, counted from the objects written: documents by kind (as
`documents`/`index` build them: deleted configurations have none) and objects as `extract` counts
them (every configuration in the files). Tests take their expected counts from here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keboola_vectorizer.demo_org.project import BuiltProject

KINDS = ("bucket", "table", "column", "configuration", "configuration_row")
EXTRACT_NAMES = ("buckets", "tables", "columns", "configurations", "configuration_rows")


def count_project(built: BuiltProject) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(documents by kind, extract counts, documents by kind that come from dev-branch buckets)."""
    documents: Counter[str] = Counter({kind: 0 for kind in KINDS})
    dev: Counter[str] = Counter()
    documents["bucket"] = len(built.buckets)
    dev["bucket"] = len(built.dev_bucket_ids)
    for table in built.tables:
        is_dev = table.body["bucket"]["id"] in built.dev_bucket_ids
        documents["table"] += 1
        documents["column"] += len(table.columns)
        if is_dev:
            dev["table"] += 1
            dev["column"] += len(table.columns)
    configurations = [c for comp in built.components.values() for c in comp["configurations"]]
    live = [c for c in configurations if not c.get("isDeleted")]
    documents["configuration"] = len(live)
    documents["configuration_row"] = sum(len(c.get("rows") or []) for c in live)
    extract = {"buckets": documents["bucket"], "tables": documents["table"], "columns": documents["column"],
               # extract skips deleted configurations, as the documents do
               "configurations": len(live), "configuration_rows": documents["configuration_row"]}
    return dict(documents), extract, {k: v for k, v in dev.items() if v}


@dataclass(frozen=True)
class ProjectSummary:
    id: int
    name: str
    domain: str
    token: str
    stack_url: str
    documents: dict[str, int]  # kind -> documents
    extract: dict[str, int]  # extract's count names -> objects in the files
    dev_branch: dict[str, int] = field(default_factory=dict)  # kind -> documents from dev-branch buckets

    @property
    def total(self) -> int:
        return sum(self.documents.values())


@dataclass(frozen=True)
class OrganisationSummary:
    root: Path
    seed: int
    projects: tuple[ProjectSummary, ...]

    @property
    def documents(self) -> int:
        return sum(p.total for p in self.projects)

    @property
    def project_ids(self) -> list[int]:
        return [p.id for p in self.projects]

    def by_kind(self) -> dict[str, int]:
        return {kind: sum(p.documents[kind] for p in self.projects) for kind in KINDS}

    def by_project(self) -> dict[str, dict[str, int]]:
        """`{"3001": {"bucket": 4, ...}}`: documents per project and kind."""
        return {str(p.id): dict(p.documents) for p in self.projects}

    def extract_counts(self) -> dict[str, dict[str, int]]:
        """`{"3001": {"buckets": 4, ...}}`: what `extract` reports per project for this organisation."""
        return {str(p.id): dict(p.extract) for p in self.projects}

    def project(self, key: int | str) -> ProjectSummary:
        """A project by id or by domain key (`"crm"`: the first project of that domain)."""
        for summary in self.projects:
            if summary.id == key or str(summary.id) == str(key) or summary.domain == key:
                return summary
        raise KeyError(key)

    def smallest(self, count: int = 1) -> list[ProjectSummary]:
        return sorted(self.projects, key=lambda p: (p.total, p.id))[:count]

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "documents": self.documents, "by_kind": self.by_kind(),
                "projects": {str(p.id): {"name": p.name, "domain": p.domain, "documents": p.documents,
                                         "extract": p.extract, "dev_branch": p.dev_branch}
                             for p in self.projects}}

    @classmethod
    def from_json(cls, root: Path, data: dict[str, Any], tokens: dict[int, tuple[str, str]]) -> OrganisationSummary:
        projects = tuple(ProjectSummary(int(pid), p["name"], p["domain"], *tokens[int(pid)], dict(p["documents"]),
                                        dict(p["extract"]), dict(p.get("dev_branch") or {}))
                         for pid, p in data["projects"].items())
        return cls(root, int(data["seed"]), projects)

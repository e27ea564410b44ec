"""Read a snapshot directory: `projects.json` plus one folder of raw Storage API JSON per project.

The layout is the sample organisation's, so the bundled demo data, a saved extract and a live
project enter the pipeline the same way. Projects are read one at a time so an organisation's
metadata never has to sit in memory all at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keboola_vectorizer.errors import SnapshotError

PROJECT_FILES = ("tokens-verify.json", "dev-branches.json", "buckets.json", "tables.json",
                 "components.json")
DEFAULT_STACK_URL = "https://connection.keboola.com"


@dataclass
class ProjectSnapshot:
    id: int
    name: str
    stack_url: str
    buckets: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    components: list[dict[str, Any]]
    branches: list[dict[str, Any]] = field(default_factory=list)  # dev-branches.json


@dataclass(frozen=True)
class ProjectEntry:
    id: int
    name: str
    stack_url: str


def bundled_sample_org() -> Path:
    """The sample organisation shipped inside the package (demo data, tests, eval)."""
    return Path(__file__).resolve().parent.parent / "sample_org"


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise SnapshotError(
            f"snapshot file {path} is missing",
            "re-run `keboola-vectorizer extract` to write a complete snapshot",
        )
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(
            f"snapshot file {path} is not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})",
            "re-run `keboola-vectorizer extract` to write it again",
        ) from None


def _expect_list(value: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SnapshotError(
            f"snapshot file {path} does not hold a list of objects as the Storage API returns",
            "re-run `keboola-vectorizer extract` to write it again",
        )
    return value


def _has_id(item: dict[str, Any]) -> bool:
    value = item.get("id")
    return isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip() != ""


def _expect_ids(items: list[dict[str, Any]], path: Path, what: str) -> None:
    """Every object a document is keyed by has an id (a missing one would merge or drop documents)."""
    for position, item in enumerate(items):
        if not _has_id(item):
            raise SnapshotError(
                f"snapshot file {path}: {what} {position} has no id",
                "re-run `keboola-vectorizer extract` to write it again",
            )


def _expect_components(components: list[dict[str, Any]], path: Path) -> None:
    _expect_ids(components, path, "component")
    for component in components:
        configurations = component.get("configurations")
        if configurations is None:
            continue
        where = f"component {component['id']} configurations"
        _expect_ids(_expect_list_at(configurations, path, where), path, f"component {component['id']} configuration")
        for configuration in configurations:
            rows = configuration.get("rows")
            if rows is not None:
                where = f"configuration {configuration['id']} rows"
                _expect_ids(_expect_list_at(rows, path, where), path, f"configuration {configuration['id']} row")


def _expect_list_at(value: Any, path: Path, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SnapshotError(
            f"snapshot file {path}: {where} is not a list of objects as the Storage API returns",
            "re-run `keboola-vectorizer extract` to write it again",
        )
    return value


class Snapshot:
    """A snapshot directory, validated on open; projects are loaded lazily."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise SnapshotError(
                f"snapshot directory {self.root} does not exist",
                "pass --snapshot with a directory written by `keboola-vectorizer extract`",
            )
        index = self.root / "projects.json"
        if not index.is_file():
            raise SnapshotError(
                f"{self.root} is not a snapshot: it has no projects.json",
                "pass --snapshot with a directory written by `keboola-vectorizer extract`",
            )
        entries = _expect_list(_read_json(index), index)
        self.projects: list[ProjectEntry] = []
        for position, entry in enumerate(entries):
            try:
                project_id = int(entry["id"])
            except (KeyError, TypeError, ValueError):
                raise SnapshotError(
                    f"{index} entry {position} has no numeric project id",
                    "re-run `keboola-vectorizer extract`",
                ) from None
            self.projects.append(ProjectEntry(
                id=project_id,
                name=str(entry.get("name") or project_id),
                stack_url=str(entry.get("stack_url") or DEFAULT_STACK_URL).rstrip("/"),
            ))
        for project in self.projects:
            folder = self.root / str(project.id)
            missing = [name for name in PROJECT_FILES if not (folder / name).is_file()]
            if missing:
                raise SnapshotError(
                    f"snapshot project {project.id} lacks {', '.join(missing)} in {folder}",
                    "re-run `keboola-vectorizer extract` to write a complete snapshot",
                )

    @property
    def project_ids(self) -> list[int]:
        return [project.id for project in self.projects]

    def load(self, entry: ProjectEntry) -> ProjectSnapshot:
        folder = self.root / str(entry.id)
        buckets = _expect_list(_read_json(folder / "buckets.json"), folder / "buckets.json")
        tables = _expect_list(_read_json(folder / "tables.json"), folder / "tables.json")
        components = _expect_list(_read_json(folder / "components.json"), folder / "components.json")
        _expect_ids(buckets, folder / "buckets.json", "bucket")
        _expect_ids(tables, folder / "tables.json", "table")
        _expect_components(components, folder / "components.json")
        verify = _read_json(folder / "tokens-verify.json")
        owner = verify.get("owner") if isinstance(verify, dict) else None
        name = entry.name
        if isinstance(owner, dict) and owner.get("name"):
            name = str(owner["name"])
        branches = _read_json(folder / "dev-branches.json")
        branches = [b for b in branches if isinstance(b, dict) and _has_id(b)] if isinstance(branches, list) else []
        return ProjectSnapshot(entry.id, name, entry.stack_url, buckets, tables, components, branches)

    def check(self, only: set[int] | None = None) -> None:
        """Read every project once and drop it: a corrupt file fails the run before anything is written,
        not half-way through (one project at a time, so memory stays flat)."""
        for entry in self.projects:
            if only is None or entry.id in only:
                self.load(entry)

    def iter_projects(self, only: set[int] | None = None) -> Iterator[ProjectSnapshot]:
        for entry in self.projects:
            if only is None or entry.id in only:
                yield self.load(entry)

"""The extract stage: Storage API -> snapshot directory in the sample-org layout.

A snapshot is `projects.json` plus one folder per project holding the raw API answers, so a live
extraction, a saved snapshot and the bundled sample organisation all enter the pipeline the same way.
The snapshot is built in a temporary directory beside the target and renamed into place only when every
project succeeded: a failed or killed run leaves the previous snapshot untouched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keboola_vectorizer.errors import ConfigError, KeboolaApiError, SnapshotError
from keboola_vectorizer.keboola.client import (
    DEFAULT_BACKOFF_MAX_S,
    DEFAULT_BACKOFF_S,
    DEFAULT_DEADLINE_S,
    DEFAULT_TIMEOUT_S,
    KeboolaClient,
)
from keboola_vectorizer.keboola.projects_config import ProjectSource

logger = logging.getLogger(__name__)

PROJECTS_FILE = "projects.json"
PROJECT_FILES = ("tokens-verify", "dev-branches", "buckets", "tables", "components")
COUNT_NAMES = ("buckets", "tables", "columns", "configurations", "configuration_rows")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ProjectExtract:
    """What was extracted from one project; count names match expected-counts.json."""

    project_id: int
    name: str
    stack_url: str
    buckets: int
    tables: int
    columns: int
    configurations: int
    configuration_rows: int
    seconds: float

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_NAMES}


@dataclass(frozen=True)
class ExtractResult:
    """The snapshot written and per-project counts, in the order the sources were given."""

    out_dir: Path
    projects: list[ProjectExtract] = field(default_factory=list)
    seconds: float = 0.0

    def counts_by_project(self) -> dict[str, dict[str, int]]:
        """`{"9001": {"buckets": 1, ...}}`: the shape of expected-counts.json's `projects`."""
        return {str(p.project_id): p.counts() for p in self.projects}

    def totals(self) -> dict[str, int]:
        return {name: sum(getattr(p, name) for p in self.projects) for name in COUNT_NAMES}

    def to_json(self) -> dict[str, Any]:
        """The `extract --json` summary: per-project name, counts and seconds, totals, snapshot path."""
        return {
            "snapshot": str(self.out_dir),
            "projects": {
                str(p.project_id): {"name": p.name, **p.counts(), "seconds": round(p.seconds, 3)}
                for p in self.projects
            },
            "totals": self.totals(),
            "seconds": round(self.seconds, 3),
        }


def extract_snapshot(
    sources: list[ProjectSource],
    out_dir: Path,
    *,
    progress: Progress | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    backoff_s: float = DEFAULT_BACKOFF_S,
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
) -> ExtractResult:
    """Read every source project into a snapshot at `out_dir`, replacing it only on full success.

    `deadline_s` bounds the retries of each API call (waits included); `timeout_s` bounds one request.
    `progress(label, done, total)` is called once with done=0 before the first project (so a progress
    bar learns the total) and then after each project with the number of projects finished so far.
    Raises KeboolaAuthError (token rejected), KeboolaApiError (API unreachable or failing past the
    deadline), ConfigError (no sources, or two sources resolving to the same project id) and
    SnapshotError (out_dir cannot be written or is an unrelated non-empty directory).
    """
    if not sources:
        raise ConfigError("no Keboola projects to extract", "set KBC_STORAGE_API_URL and KBC_STORAGE_TOKEN")
    out_dir = Path(out_dir)
    _check_target(out_dir)
    started = time.monotonic()
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    except OSError as exc:
        raise SnapshotError(f"cannot create the snapshot beside {out_dir}: {exc}", "check the path") from None

    try:
        if progress is not None:
            progress(f"extracting {len(sources)} project(s)", 0, len(sources))
        done: list[ProjectExtract] = []
        listed: list[dict[str, Any]] = []
        owners: dict[int, int] = {}
        for index, source in enumerate(sources):
            project = _extract_project(
                source,
                tmp,
                index=index,
                owners=owners,
                deadline_s=deadline_s,
                timeout_s=timeout_s,
                backoff_s=backoff_s,
                backoff_max_s=backoff_max_s,
            )
            done.append(project)
            # The token stays out of the snapshot: snapshots get copied around, tokens must not.
            listed.append({"id": project.project_id, "name": project.name, "stack_url": project.stack_url})
            if progress is not None:
                progress(f"{project.project_id} {project.name}", index + 1, len(sources))
        _write_json(tmp / PROJECTS_FILE, listed)
        _swap_into_place(tmp, out_dir)
    finally:
        # After a successful swap tmp no longer exists; after a failure this drops the partial build.
        shutil.rmtree(tmp, ignore_errors=True)

    seconds = time.monotonic() - started
    result = ExtractResult(out_dir=out_dir, projects=done, seconds=seconds)
    logger.info("extracted %d project(s) into %s in %.1f s: %s", len(done), out_dir, seconds, result.totals())
    return result


def _extract_project(
    source: ProjectSource,
    tmp: Path,
    *,
    index: int,
    owners: dict[int, int],
    deadline_s: float,
    timeout_s: float,
    backoff_s: float,
    backoff_max_s: float,
) -> ProjectExtract:
    started = time.monotonic()
    with KeboolaClient(
        source.url,
        source.token,
        label=source.label,
        timeout_s=timeout_s,
        deadline_s=deadline_s,
        backoff_s=backoff_s,
        backoff_max_s=backoff_max_s,
    ) as client:
        where = source.label or source.url
        verify = _expect(client.verify_token(), dict, "tokens/verify", where)
        owner = verify.get("owner")
        if not isinstance(owner, dict) or not isinstance(owner.get("id"), (int, str)):
            raise KeboolaApiError(f"Storage API {where}: tokens/verify answer has no owner.id", "")
        try:
            project_id = int(owner["id"])
        except ValueError:
            raise KeboolaApiError(f"Storage API {where}: owner.id {owner['id']!r} is not a number", "") from None
        name = str(owner.get("name") or project_id)
        if project_id in owners:
            # Folders are named by project id and document ids start with it, so two would collide.
            raise ConfigError(
                f"projects[{index}] ({where}) is project {project_id}, "
                f"already read from projects[{owners[project_id]}]",
                "list every project once; project ids must be unique across stacks in one snapshot",
            )
        owners[project_id] = index
        # Some stacks echo the token in its own verify answer; it must never reach the disk.
        if "token" in verify:
            verify = {**verify, "token": None}

        answers: dict[str, Any] = {
            "tokens-verify": verify,
            "dev-branches": _expect(client.list_dev_branches(), list, "dev-branches", where),
            "buckets": _expect(client.list_buckets(), list, "buckets", where),
            "tables": _expect(client.list_tables(), list, "tables", where),
            "components": _expect(client.list_components(), list, "branch/default/components", where),
        }

    project_dir = tmp / str(project_id)
    project_dir.mkdir()
    for stem in PROJECT_FILES:
        _write_json(project_dir / f"{stem}.json", answers[stem])

    tables, components = answers["tables"], answers["components"]
    # Deleted configurations (the API can list them with isDeleted) make no document: not counted.
    configurations = [c for comp in components for c in (comp.get("configurations") or [])
                      if isinstance(c, dict) and not c.get("isDeleted")]
    project = ProjectExtract(
        project_id=project_id,
        name=name,
        stack_url=source.url,
        buckets=len(answers["buckets"]),
        tables=len(tables),
        columns=sum(len(t.get("columns") or []) for t in tables),
        configurations=len(configurations),
        configuration_rows=sum(len(c.get("rows") or []) for c in configurations),
        seconds=time.monotonic() - started,
    )
    logger.info(
        "extracted project %s (%s) from %s in %.1f s: %s",
        project_id, name, source.url, project.seconds, project.counts(),
    )
    return project


def _expect(value: Any, kind: type, path: str, where: str) -> Any:
    if not isinstance(value, kind) or (kind is list and not all(isinstance(v, dict) for v in value)):
        raise KeboolaApiError(
            f"Storage API {where}: GET /v2/storage/{path} answered with an unexpected shape "
            f"(expected a JSON {'object' if kind is dict else 'array of objects'})",
            "check KBC_STORAGE_API_URL points at a Keboola stack",
        )
    return value


def _write_json(path: Path, data: Any) -> None:
    # The sample organisation's exact formatting, so a snapshot diffs cleanly against it.
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SnapshotError(f"cannot write {path}: {exc}", "check free space and permissions") from None


def _check_target(out_dir: Path) -> None:
    """Refuse to replace anything but a snapshot or an empty directory: the swap deletes the old one."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise SnapshotError(f"snapshot target {out_dir} exists and is not a directory", "choose another path")
    if out_dir.is_dir() and not (out_dir / PROJECTS_FILE).is_file() and any(out_dir.iterdir()):
        raise SnapshotError(
            f"snapshot target {out_dir} is a non-empty directory without {PROJECTS_FILE}",
            "choose an empty or new directory; an existing snapshot is replaced, anything else is kept",
        )


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    old: Path | None = None
    try:
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / out_dir.name)
        os.replace(tmp, out_dir)
    except OSError as exc:
        if old is not None and (old / out_dir.name).exists() and not out_dir.exists():
            os.replace(old / out_dir.name, out_dir)  # put the previous snapshot back
        raise SnapshotError(f"cannot move the new snapshot into {out_dir}: {exc}", "check permissions") from None
    finally:
        # Only once the new snapshot stands: a failed restore must not also lose the previous one.
        if old is not None and out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)

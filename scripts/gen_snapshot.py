"""Generate a synthetic organisation snapshot of about N documents, in the sample-org layout.

The bundled sample organisation (19 projects, 2,141 documents: buckets, tables, columns,
configurations and rows from real Keboola templates) is cloned project by project under new
project ids and names until the organisation holds about N documents. Every clone is a complete
project (its lineage stays consistent), so the count lands within one project's size of N; the
exact count is printed. Texts differ between clones by the project name, which appears in every
document, so no two documents are identical; their lengths and kinds follow the sample organisation.

`--mutate FRACTION` changes that share of the documents of an existing snapshot in place (column
descriptions: each edit changes exactly one document), for incremental-rerun benchmarks.

    python scripts/gen_snapshot.py /tmp/org-10k --documents 10000
    python scripts/gen_snapshot.py /tmp/org-10k --mutate 0.01 --tag run2
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from keboola_vectorizer.keboola.snapshot import PROJECT_FILES, bundled_sample_org

FIRST_PROJECT_ID = 100_001
REGIONS = ("EMEA", "US", "APAC", "LATAM", "Nordics", "DACH", "UK", "France", "Iberia", "CEE")
TEAMS = ("Sales", "Finance", "Marketing", "Operations", "Product", "Support", "Growth", "Data Platform")


def _sample_projects() -> list[tuple[dict[str, Any], int]]:
    """(projects.json entry, documents in it) for each sample project."""
    root = bundled_sample_org()
    counts = json.loads((root / "expected-counts.json").read_text())["projects"]
    entries = json.loads((root / "projects.json").read_text())
    return [(entry, sum(counts[str(entry["id"])].values())) for entry in entries]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def generate(out: Path, documents: int, seed: int = 7) -> int:
    """Write a snapshot of about `documents` documents into `out`; return the exact count."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "projects.json").exists():
        raise SystemExit(f"{out} already holds a snapshot; remove it first")
    rng = random.Random(seed)
    samples = _sample_projects()
    root = bundled_sample_org()
    entries: list[dict[str, Any]] = []
    total, clone = 0, 0
    while total < documents:
        entry, count = samples[clone % len(samples)]
        if total and total + count - documents > documents - total:
            # Closer to N without this project; try a smaller one before giving up.
            smaller = [(e, c) for e, c in samples if total + c - documents <= documents - total]
            if not smaller:
                break
            entry, count = rng.choice(smaller)
        project_id = FIRST_PROJECT_ID + len(entries)
        name = f"{rng.choice(TEAMS)} {entry['name']} {rng.choice(REGIONS)} {len(entries) + 1}"
        folder = out / str(project_id)
        folder.mkdir()
        source = root / str(entry["id"])
        for file_name in PROJECT_FILES:
            data = json.loads((source / file_name).read_text(encoding="utf-8"))
            if file_name == "tokens-verify.json" and isinstance(data.get("owner"), dict):
                data["owner"] = {**data["owner"], "id": project_id, "name": name}
            _write_json(folder / file_name, data)
        entries.append({"id": project_id, "name": name, "template": entry.get("template"),
                        "stack_url": entry.get("stack_url")})
        total += count
        clone += 1
    (out / "projects.json").write_text(json.dumps(entries, indent=1))
    (out / "generated.json").write_text(json.dumps({"documents": total, "projects": len(entries),
                                                    "seed": seed, "requested": documents}))
    return total


def mutate(root: Path, fraction: float, seed: int = 11, tag: str = "changed") -> int:
    """Change about `fraction` of the snapshot's documents (column descriptions); return how many."""
    meta = json.loads((root / "generated.json").read_text())
    wanted = max(1, round(meta["documents"] * fraction))
    projects = json.loads((root / "projects.json").read_text())
    columns: list[tuple[int, int, str]] = []
    for project in projects:
        tables = json.loads((root / str(project["id"]) / "tables.json").read_text(encoding="utf-8"))
        for index, table in enumerate(tables):
            columns.extend((project["id"], index, str(c)) for c in table.get("columns") or [])
    chosen = random.Random(f"{seed}-{tag}").sample(columns, min(wanted, len(columns)))
    by_project: dict[int, list[tuple[int, str]]] = {}
    for project_id, index, column in chosen:
        by_project.setdefault(project_id, []).append((index, column))
    for project_id, edits in by_project.items():
        path = root / str(project_id) / "tables.json"
        tables = json.loads(path.read_text(encoding="utf-8"))
        for index, column in edits:
            table = tables[index]
            metadata = table.setdefault("columnMetadata", {}).setdefault(column, [])
            metadata[:] = [m for m in metadata if m.get("key") != "KBC.description"]
            metadata.append({"key": "KBC.description", "value": f"{column} as reviewed by the data team ({tag})",
                             "provider": "user"})
        _write_json(path, tables)
    return len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="snapshot directory to write (or to mutate)")
    parser.add_argument("--documents", type=int, help="about how many documents to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mutate", type=float, help="change this share of an existing snapshot's documents")
    parser.add_argument("--tag", default="changed", help="makes repeated --mutate runs change text again")
    args = parser.parse_args(argv)
    if args.mutate is not None:
        print(json.dumps({"changed": mutate(args.out, args.mutate, args.seed, args.tag)}))
    elif args.documents:
        print(json.dumps({"documents": generate(args.out, args.documents, args.seed), "path": str(args.out)}))
    else:
        parser.error("pass --documents N or --mutate FRACTION")
    return 0


if __name__ == "__main__":
    sys.exit(main())

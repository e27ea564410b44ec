"""Generate an organisation snapshot of about N documents with the project's own generator.

A thin command over keboola_vectorizer.demo_org: `--documents N` picks how many projects (one
per domain in turn: CRM, e-commerce, ads, email, billing, support, product, HR, logistics,
reporting, sandbox) bring the organisation closest to N, at the vocabulary's natural size or at
`--tables-per-project M` tables each; `--projects P` sets the count directly. The exact count and
the generation speed are printed. Deterministic for `--seed`.

`--mutate FRACTION` changes that share of the documents of an existing snapshot in place (column
descriptions: each edit changes exactly one document), for incremental-rerun benchmarks.

    python scripts/gen_snapshot.py /tmp/org-10k --documents 10000
    python scripts/gen_snapshot.py /tmp/org-100k --documents 100000 --tables-per-project 120
    python scripts/gen_snapshot.py /tmp/org-10k --mutate 0.01 --tag run2
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from keboola_vectorizer.demo_org import generate_organisation
from keboola_vectorizer.demo_org.organisation import projects_for


def generate(out: Path, documents: int, seed: int = 7, tables_per_project: int | None = None) -> int:
    """Write a snapshot of about `documents` documents into `out`; return the exact count."""
    if (out / "projects.json").exists():
        raise SystemExit(f"{out} already holds a snapshot; remove it first")
    projects = projects_for(documents, tables_per_project)
    return generate_organisation(out, seed=seed, projects=projects, tables_per_project=tables_per_project,
                                 compact=True).documents


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
        path.write_text(json.dumps(tables, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="snapshot directory to write (or to mutate)")
    parser.add_argument("--documents", type=int, help="about how many documents to generate")
    parser.add_argument("--projects", type=int, help="exactly this many projects (instead of --documents)")
    parser.add_argument("--tables-per-project", type=int, help="about this many tables in every project")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mutate", type=float, help="change this share of an existing snapshot's documents")
    parser.add_argument("--tag", default="changed", help="makes repeated --mutate runs change text again")
    args = parser.parse_args(argv)
    if args.mutate is not None:
        print(json.dumps({"changed": mutate(args.out, args.mutate, args.seed, args.tag)}))
        return 0
    if not args.documents and not args.projects:
        parser.error("pass --documents N, --projects P or --mutate FRACTION")
    started = time.perf_counter()
    if args.projects:
        if (args.out / "projects.json").exists():
            raise SystemExit(f"{args.out} already holds a snapshot; remove it first")
        summary = generate_organisation(args.out, seed=args.seed, projects=args.projects,
                                        tables_per_project=args.tables_per_project, compact=True)
        documents, projects = summary.documents, len(summary.projects)
    else:
        documents = generate(args.out, args.documents, args.seed, args.tables_per_project)
        projects = len(json.loads((args.out / "projects.json").read_text()))
    seconds = time.perf_counter() - started
    print(json.dumps({"documents": documents, "projects": projects, "path": str(args.out),
                      "seconds": round(seconds, 2), "documents_per_second": round(documents / seconds)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

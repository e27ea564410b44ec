"""Print the fault matrix: each fault injected into a real index run, where, the outcome, and how many
points were lost or duplicated against an undisturbed run (ids and content hashes compared).

    .venv/bin/python scripts/fault_matrix.py            # a Markdown table on stdout (about 1-2 minutes)
    .venv/bin/python scripts/fault_matrix.py --json     # the same as JSON
    .venv/bin/python scripts/fault_matrix.py -k openai  # only scenarios whose name contains "openai"

The scenarios live in tests/fault_scenarios.py and tests/cluster_faults.py and are the ones
tests/test_faults.py, tests/test_kill_resume.py, tests/test_lock.py and tests/test_cluster_faults.py
assert on. Exits 1 if any scenario lost or duplicated
a point or failed one of its checks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import cluster_faults as cf  # noqa: E402
from tests import fault_scenarios as fs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    parser.add_argument("-k", dest="only", default="", help="only scenarios whose name contains this")
    args = parser.parse_args()

    scenarios = [s for s in fs.ALL + cf.ALL if args.only in s.__name__]
    started = time.monotonic()
    rows = []
    with fs.lab_at() as lab:
        for scenario in scenarios:
            outcome = scenario(lab)
            rows.append({"scenario": scenario.__name__, "fault": outcome.fault, "where": outcome.where,
                         "outcome": outcome.outcome, "points_lost": outcome.lost,
                         "points_duplicated": outcome.duplicated, "stray_points": outcome.strays,
                         "checks_failed": outcome.failed_checks(), "notes": outcome.notes,
                         "seconds": round(outcome.seconds, 1), "ok": outcome.ok})
            print(f"{scenario.__name__}: {'ok' if outcome.ok else 'FAILED'} ({outcome.seconds:.1f} s)",
                  file=sys.stderr)
        baseline = {"points": lab.baseline.count, "documents": len(lab.baseline.hashes)}
    if args.json:
        print(json.dumps({"baseline": baseline, "scenarios": rows,
                          "seconds": round(time.monotonic() - started, 1)}, indent=2))
    else:
        print(f"Baseline: an undisturbed `index --provider openai --batch-size {fs.BATCH}` of project "
              f"{lab.project}: {baseline['documents']} documents, {baseline['points']} points.\n")
        print("| fault | where injected | outcome | points lost | points duplicated |")
        print("| --- | --- | --- | ---: | ---: |")
        for row in rows:
            outcome = row["outcome"] + ("" if row["ok"] else f" — FAILED: {', '.join(row['checks_failed'])}")
            print(f"| {row['fault']} | {row['where']} | {outcome} | {row['points_lost']} | "
                  f"{row['points_duplicated']} |")
        print(f"\n{len(rows)} scenarios in {time.monotonic() - started:.0f} s; "
              f"{sum(1 for r in rows if r['ok'])} converged to the undisturbed collection.")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

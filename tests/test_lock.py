"""One writer per collection: a second index run exits 9 with one clear line (or waits with
KV_LOCK_TIMEOUT), the lock dies with its process (kill -9), and nothing interleaves."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from tests import fault_scenarios as fs


def test_second_run_exits_9_and_a_waiting_run_finds_nothing_to_do(fault_lab: fs.Lab) -> None:
    outcome = fs.concurrent_runs(fault_lab)
    report = f"{outcome.outcome}; failed {outcome.failed_checks()}"
    assert outcome.failed_checks() == [], report
    assert (outcome.lost, outcome.duplicated, outcome.strays) == (0, 0, 0), report


def test_lock_held_by_another_process_then_freed_by_kill_9(fault_lab: fs.Lab) -> None:
    """A process holding the collection lock blocks `index` and `upsert` (exit 9, naming the lock file);
    once it is killed with SIGKILL — no chance to clean up — the next run takes the lock at once."""
    with fault_lab.scenario() as (env, _openai, qdrant):
        holder_code = textwrap.dedent("""
            import sys, time
            from keboola_vectorizer.config import load_settings
            from keboola_vectorizer.locking import collection_lock
            with collection_lock(load_settings()):
                print("locked", flush=True)
                time.sleep(120)
        """)
        holder = subprocess.Popen([sys.executable, "-c", holder_code], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            busy = fs.run(fault_lab.index_args(), env)
            assert busy.returncode == 9, busy.stderr
            errors = fs.error_lines(busy)
            assert len(errors) == 1 and "another index run" in errors[0] and ".keboola-metadata.lock" in errors[0]
            assert "KV_LOCK_TIMEOUT" in errors[0]
            upsert = fs.run(["upsert", "--snapshot", str(fault_lab.baseline_snapshot)], env)
            assert upsert.returncode == 9, upsert.stderr
            assert fs.read_edge(qdrant).count == 0  # nothing was written by the refused runs
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
        assert holder.returncode == -signal.SIGKILL
        after = fs.run(fault_lab.index_args(), env)
        assert after.returncode == 0, after.stderr
        assert fs.read_edge(qdrant).hashes == fault_lab.baseline.hashes

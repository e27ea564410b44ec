"""kill -9 in the middle of an index run: during an embed request and half-way through an upsert.
The store opens afterwards, the lock is free, and the next run embeds only what was not yet stored
and converges to the undisturbed collection (tests/fault_scenarios.py)."""

from __future__ import annotations

import json
import signal

from tests import fault_scenarios as fs


def _assert_converged(outcome: fs.Outcome) -> None:
    report = f"{outcome.fault} @ {outcome.where}: {outcome.outcome}; failed {outcome.failed_checks()} {outcome.notes}"
    assert outcome.failed_checks() == [], report
    assert (outcome.lost, outcome.duplicated, outcome.strays) == (0, 0, 0), report


def test_kill_during_embed_then_resume(fault_lab: fs.Lab) -> None:
    _assert_converged(fs.kill_during_embed(fault_lab))


def test_kill_half_way_through_an_upsert_then_resume(fault_lab: fs.Lab) -> None:
    _assert_converged(fs.kill_during_upsert(fault_lab, nth=3))


def test_killed_in_every_run_still_converges(fault_lab: fs.Lab) -> None:
    """Each killed run keeps what it stored; the runs add up instead of starting over."""
    _assert_converged(fs.kill_repeatedly(fault_lab))


def test_kill_during_rebuild_keeps_the_old_index_and_leaves_no_orphans(fault_lab: fs.Lab) -> None:
    """A --rebuild killed half-way leaves the old generation searchable and untouched; the next
    --rebuild completes, and no half-built generation is left on disk."""
    with fault_lab.scenario() as (env, _openai, qdrant):
        first = fs.run(fault_lab.index_args(), env)
        assert first.returncode == 0, first.stderr
        killed = fs.run(fault_lab.index_args("--rebuild"), {**env, "KV_TEST_KILL": "upsert:2"}, helper=True)
        assert killed.returncode == -signal.SIGKILL
        assert fs.read_edge(qdrant).hashes == fault_lab.baseline.hashes  # the old index, whole
        again = fs.run(fault_lab.index_args("--rebuild"), env)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["embedded"] == fault_lab.documents
        final = fs.read_edge(qdrant)
        assert final.hashes == fault_lab.baseline.hashes and final.duplicated == 0
        generations = [p.name for p in (qdrant / "keboola-metadata").iterdir() if p.name.startswith("gen-")]
        assert len(generations) == 1, generations


def test_sigterm_during_an_embed_request_stops_at_once_and_the_next_run_resumes(fault_lab: fs.Lab) -> None:
    """SIGTERM is what Kubernetes sends a pod first: the run stops at once (no drain that could outlast
    the grace period) and loses nothing the next run cannot redo."""
    from tests import cluster_faults

    _assert_converged(cluster_faults.term_during_embed(fault_lab))


def test_sigterm_half_way_through_an_upsert_then_resume(fault_lab: fs.Lab) -> None:
    from tests import cluster_faults

    _assert_converged(cluster_faults.term_during_upsert(fault_lab))

"""A full disk under the embedded store: the real CLI on a small tmpfs (needs root to mount; skipped
otherwise). Before the free-space checks, `index` died of SIGBUS (exit 135) the moment a memory-mapped
write went past the end of the disk. Now it stops before writing, with one line and exit 12, the store
opens and holds only whole batches, and once there is room the next run converges to the collection
of an undisturbed run (tests/fault_scenarios.py's baseline: ids and content hashes, one point each)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fault_scenarios as fs

MIB = 1024 * 1024


def _mount(target: Path, size: str, *options: str) -> subprocess.CompletedProcess[str]:
    opts = ",".join([*options, f"size={size}"])
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(target)],
                          capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An empty 6 MiB tmpfs, unmounted afterwards; the test is skipped where mounting is not allowed."""
    target = tmp_path / "disk"
    target.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mounted = _mount(target, "6m")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def _grow(disk: Path, size: str) -> None:
    grown = _mount(disk, size, "remount")
    assert grown.returncode == 0, grown.stderr


def _assert_one_disk_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 12, f"exit {result.returncode}: {result.stderr[-1500:]}"  # 135 = SIGBUS
    errors = fs.error_lines(result)
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr
    assert "not enough disk space" in errors[0] and "QDRANT_PATH" in errors[0] and "rerun" in errors[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def _assert_converged(lab: fs.Lab, qdrant: Path) -> None:
    final = fs.read_edge(qdrant)
    assert final.hashes == lab.baseline.hashes and final.duplicated == 0 and final.count == 24


def test_index_on_a_6_mib_disk_stops_with_one_line_and_resumes_once_there_is_room(
        fault_lab: fs.Lab, small_disk: Path) -> None:
    with fault_lab.scenario() as (env, _openai, _unused):
        qdrant = small_disk / "qdrant"
        env["QDRANT_PATH"] = str(qdrant)
        failed = fs.run(fault_lab.index_args(), env)
        _assert_one_disk_line(failed)
        assert fs.read_edge(qdrant).count == 0
        _grow(small_disk, "160m")
        rerun = fs.run(fault_lab.index_args(), env)
        assert rerun.returncode == 0, rerun.stderr[-1500:]
        assert fs.summary_of(rerun)["embedded"] == 24
        _assert_converged(fault_lab, qdrant)


@pytest.mark.parametrize(("left", "stops_at"), [(300 * 1024, "needs about"), (1_600 * 1024, "points needs about")],
                         ids=["300KiB-left", "1.6MiB-left"])
def test_disk_filling_up_during_a_run_stops_before_a_mapped_write_and_converges(
        fault_lab: fs.Lab, small_disk: Path, left: int, stops_at: str) -> None:
    """Another file fills the disk after the store was created: the run stops before the write that
    would not fit (with 300 KiB left the unchecked run was killed by SIGBUS), never fills the disk and
    keeps what it wrote (with 1.6 MiB left it stops before an upsert, after the open); the next run,
    with room again, embeds only the rest."""
    from tests.fakes.openai_server import Fault

    _grow(small_disk, "160m")
    with fault_lab.scenario() as (env, openai, _unused):
        qdrant = small_disk / "qdrant"
        env["QDRANT_PATH"] = str(qdrant)
        openai.inject(Fault(status=400, code="invalid_request_error", message="no"), at=1)
        created = fs.run(fault_lab.index_args(), env)  # creates the store, embeds nothing
        assert created.returncode == 8, created.stderr[-1500:]
        assert fs.read_edge(qdrant).count == 0  # opened once: on tmpfs the first open allocates 49 MiB
        filler = small_disk / "filler"
        filler.write_bytes(b"\1" * max(0, shutil.disk_usage(small_disk).free - left))
        failed = fs.run(fault_lab.index_args(), env)
        _assert_one_disk_line(failed)
        assert stops_at in fs.error_lines(failed)[0], fs.error_lines(failed)
        assert shutil.disk_usage(small_disk).free > 0
        filler.unlink()
        partial = fs.read_edge(qdrant)  # opens, and holds whole batches of the undisturbed run only
        assert partial.count < 24 and partial.count % fs.BATCH == 0 and partial.duplicated == 0
        assert all(fault_lab.baseline.hashes[d] == h for d, h in partial.hashes.items())
        rerun = fs.run(fault_lab.index_args(), env)
        assert rerun.returncode == 0, rerun.stderr[-1500:]
        assert fs.summary_of(rerun)["embedded"] == 24 - partial.count
        _assert_converged(fault_lab, qdrant)

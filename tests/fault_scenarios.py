"""The fault matrix: every scenario injects one fault into a real index run and measures the result.

Shared by tests/test_faults.py, tests/test_kill_resume.py, tests/test_lock.py (which assert on the
outcomes) and scripts/fault_matrix.py (which prints them as a table). A scenario runs the real CLI
(`index --provider openai`, a live extract from the fake Storage API over real HTTP, the real openai
client against the fake OpenAI server, Qdrant Edge on disk) or, for the Qdrant server backend, the
real pipeline and `ServerStore` over a qdrant-client whose calls fail the way they fail when the
server goes away. After the fault (and, where the run failed, one clean rerun) the collection is
compared with an undisturbed run's: every document id with the same content hash, one point each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "keboola_vectorizer.cli"]
KILL_HELPER = [sys.executable, "-m", "tests.kill_helper"]
BATCH = 8  # four embed/upsert batches per run over the demo sandbox project (29 documents)
# Short timeouts and deadlines so that a "slow" or "down" fault is decided in seconds, not minutes.
FAST_ENV = {"KBC_TIMEOUT": "2", "KBC_RETRY_DEADLINE": "20", "OPENAI_TIMEOUT": "2",
            "OPENAI_RETRY_DEADLINE": "20", "KV_LOCK_TIMEOUT": "0"}


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any Keboola, Qdrant, OpenAI or Datadog setting, plus `extra`."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("KBC_", "QDRANT_", "OPENAI_", "DD_", "EMBEDDING_", "KV_", "LOG_"))}
    base["PYTHONPATH"] = str(REPO) + (os.pathsep + base["PYTHONPATH"] if base.get("PYTHONPATH") else "")
    base.update(extra)
    return base


def run(args: list[str], env: dict[str, str], *, helper: bool = False,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    command = (KILL_HELPER if helper else CLI) + list(args)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def retry_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if " WARNING " in line and "retry" in line.lower()]


# -- the collection --------------------------------------------------------------------------------

@dataclass
class Collection:
    """What a store holds: the document id and content hash of every point, and the point count."""

    ids: list[str]
    hashes: dict[str, str]
    count: int

    @property
    def duplicated(self) -> int:
        """Points beyond one per document id (a retried or resumed write that added instead of replaced)."""
        return max(self.count - len(set(self.ids)), sum(n - 1 for n in Counter(self.ids).values()))


def read_store(store: Any) -> Collection:
    if store.meta() is None:
        return Collection([], {}, 0)
    ids, hashes = [], {}
    for hit in store.scroll():
        ids.append(hit.document_id)
        hashes[hit.document_id] = str(hit.payload.get("content_hash"))
    return Collection(ids, hashes, store.count())


def read_edge(qdrant_path: Path) -> Collection:
    from keboola_vectorizer.store.edge import EdgeStore

    store = EdgeStore(qdrant_path)
    try:
        return read_store(store)
    finally:
        store.close()


def lost(baseline: Collection, final: Collection) -> int:
    """Documents of the undisturbed run that the final collection lacks or holds with another hash."""
    return sum(1 for doc_id, digest in baseline.hashes.items() if final.hashes.get(doc_id) != digest)


def strays(baseline: Collection, final: Collection) -> int:
    return len(set(final.hashes) - set(baseline.hashes))


# -- one scenario's outcome ------------------------------------------------------------------------

@dataclass
class Outcome:
    fault: str
    where: str
    outcome: str = ""
    lost: int = -1
    duplicated: int = -1
    strays: int = 0
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.strays == 0 and all(self.checks.values())

    def failed_checks(self) -> list[str]:
        return [name for name, passed in self.checks.items() if not passed]

    def settle(self, baseline: Collection, final: Collection) -> Outcome:
        self.lost, self.duplicated, self.strays = lost(baseline, final), final.duplicated, strays(baseline, final)
        return self


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {}


# -- the lab: fakes, environment and an undisturbed baseline ---------------------------------------

class Lab:
    """One fake Storage API for every scenario (its URL is part of each document's UI link, so of its
    content hash) and a fresh fake OpenAI server and store directory per scenario."""

    def __init__(self, root: Path) -> None:
        from tests.conftest import DEMO, SMALL, copy_snapshot
        from tests.fakes.storage_api import FakeStorageApi

        self.root = root
        self.project = SMALL  # the demo organisation's sandbox: a whole project in a few batches
        self.documents = DEMO.project(SMALL).total
        assert -(-self.documents // BATCH) == 4, "the scenarios count four batches per run"
        self.org = copy_snapshot(root / "org", [self.project])
        self.api = FakeStorageApi(self.org).start()
        self.token = self.api.token_for(self.project)
        self._count = 0
        self.openai: Any = None  # the current scenario's fake OpenAI server
        self.baseline_snapshot = root / "baseline-snapshot"
        with self.scenario() as (env, _openai, qdrant):
            result = run(["index", "--provider", "openai", "--batch-size", str(BATCH), "--json",
                          "--keep-snapshot", str(self.baseline_snapshot)], env)
            if result.returncode != 0:
                raise RuntimeError(f"the undisturbed baseline run failed: {result.stderr[-2000:]}")
            self.baseline = read_edge(qdrant)
            self.baseline_summary = summary_of(result)
        if self.baseline.count != self.documents or self.baseline.duplicated:
            raise RuntimeError(f"unexpected baseline: {self.baseline.count} points")

    def close(self) -> None:
        self.api.stop()

    @contextmanager
    def scenario(self, **extra_env: str) -> Iterator[tuple[dict[str, str], Any, Path]]:
        """(CLI environment, started fake OpenAI, QDRANT_PATH) for one scenario; faults cleared after."""
        from tests.fakes.openai_server import FakeOpenAI

        self._count += 1
        qdrant = self.root / f"scenario-{self._count}" / "qdrant"
        qdrant.parent.mkdir(parents=True)
        with FakeOpenAI() as openai:
            env = clean_env(KBC_STORAGE_API_URL=self.api.url, KBC_STORAGE_TOKEN=self.token,
                            OPENAI_API_KEY=openai.api_key, OPENAI_BASE_URL=openai.base_url,
                            QDRANT_PATH=str(qdrant), **FAST_ENV)
            env.update(extra_env)
            self.api.clear_faults()
            self.api.clear_requests()
            try:
                yield env, openai, qdrant
            finally:
                self.api.clear_faults()

    def index_args(self, *extra: str) -> list[str]:
        return ["index", "--provider", "openai", "--batch-size", str(BATCH), "--json", *extra]


@contextmanager
def lab_at(root: Path | None = None) -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="kv-faults-") as tmp:
        lab = Lab(root or Path(tmp))
        try:
            yield lab
        finally:
            lab.close()


@contextmanager
def index_in_background(lab: Lab, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`index` as a separate CLI process; killed on the way out if the scenario left it running."""
    process = subprocess.Popen(CLI + lab.index_args(), env=env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def clear_openai_faults(openai: Any) -> None:
    with openai._lock:
        openai._faults.clear()
        openai.persistent_fault = None


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# -- Storage API faults (fake Storage API over HTTP, real kbcstorage client, the CLI) -------------

def storage_transient(lab: Lab, name: str, where: str, route: str, kind: str, **fault: Any) -> Outcome:
    """One transient Storage API fault: the run retries through it and completes."""
    out = Outcome(name, where)
    started = time.monotonic()
    with lab.scenario() as (env, _openai, qdrant):
        injected = lab.api.add_fault(route, kind, **fault)  # type: ignore[arg-type]
        result = run(lab.index_args(), env)
        out.checks["exit 0"] = result.returncode == 0
        out.checks["fault fired"] = injected.fired == fault.get("times", 1)
        out.checks["one log line per retry"] = len(retry_lines(result)) == injected.fired
        out.checks["retried, not multiplied"] = lab.api.count(route) == injected.fired + 1
        if fault.get("retry_after") is not None:
            waits = [line for line in retry_lines(result) if f"retrying in {fault['retry_after']:.2f} s" in line]
            out.checks["waited as Retry-After said"] = len(waits) == injected.fired
        out.outcome = (f"completed after {injected.fired} retr{'y' if injected.fired == 1 else 'ies'} "
                       f"(exit {result.returncode})")
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def storage_429(lab: Lab) -> Outcome:
    out = storage_transient(lab, "429 Too Many Requests, Retry-After: 1", "Storage API GET /v2/storage/tables",
                            "/tables", "status", status=429, retry_after=1)
    return out


def storage_5xx(lab: Lab) -> Outcome:
    return storage_transient(lab, "HTTP 503, twice", "Storage API GET .../components (2 requests)",
                             "/components", "status", status=503, times=2)


def storage_slow(lab: Lab) -> Outcome:
    return storage_transient(lab, "slow answer (4 s) past the 2 s timeout", "Storage API GET /v2/storage/buckets",
                             "/buckets", "slow", delay_s=4)


def storage_drop(lab: Lab) -> Outcome:
    return storage_transient(lab, "connection dropped unanswered", "Storage API GET /v2/storage/tokens/verify",
                             "/tokens/verify", "drop")


def storage_down(lab: Lab) -> Outcome:
    """The API fails past the retry deadline: exit 5, nothing written; the next run completes."""
    out = Outcome("HTTP 500 on every request past the 2 s deadline", "Storage API GET /v2/storage/tables")
    started = time.monotonic()
    with lab.scenario(KBC_RETRY_DEADLINE="2") as (env, _openai, qdrant):
        lab.api.add_fault("/tables", "status", status=500, times=10_000)
        failed = run(lab.index_args(), env)
        errors = error_lines(failed)
        out.checks["exit 5"] = failed.returncode == 5
        out.checks["one error line"] = len(errors) == 1 and "retry deadline 2 s" in errors[0]
        out.checks["bounded requests"] = 2 <= lab.api.count("/tables") <= 8
        out.checks["nothing written"] = read_edge(qdrant).count == 0
        lab.api.clear_faults()
        rerun = run(lab.index_args(), env)
        out.checks["rerun exit 0"] = rerun.returncode == 0
        tries = lab.api.count("/tables") - 1
        out.outcome = f"exit {failed.returncode} after {tries} tries, nothing written; rerun exit {rerun.returncode}"
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def storage_4xx(lab: Lab) -> Outcome:
    """A 4xx other than 429 is not retried and leaves with the API's own message."""
    out = Outcome("HTTP 400 with the API's error message", "Storage API GET .../components")
    started = time.monotonic()
    message = "Invalid include parameter: rowz"
    with lab.scenario() as (env, _openai, qdrant):
        lab.api.add_fault("/components", "status", status=400,
                          body={"error": message, "code": "storage.validation", "status": "error"})
        failed = run(lab.index_args(), env)
        errors = error_lines(failed)
        out.checks["exit 5"] = failed.returncode == 5
        out.checks["API message shown"] = len(errors) == 1 and message in errors[0]
        out.checks["not retried"] = lab.api.count("/components") == 1 and not retry_lines(failed)
        out.checks["nothing written"] = read_edge(qdrant).count == 0
        rerun = run(lab.index_args(), env)
        out.checks["rerun exit 0"] = rerun.returncode == 0
        out.outcome = f"exit {failed.returncode} at once, 1 request, nothing written; rerun exit {rerun.returncode}"
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


# -- OpenAI faults (fake OpenAI over HTTP, real openai client, the CLI) ----------------------------

def openai_transient(lab: Lab, name: str, fault_factory: Callable[[], Any], *, at: int = 2,
                     wait_line: str | None = None) -> Outcome:
    out = Outcome(name, f"OpenAI POST /v1/embeddings, request {at} (batch {at} of 4)")
    started = time.monotonic()
    with lab.scenario() as (env, openai, qdrant):
        openai.inject(fault_factory(), at=at)
        result = run(lab.index_args(), env)
        summary = summary_of(result)
        out.checks["exit 0"] = result.returncode == 0
        out.checks["one log line per retry"] = len(retry_lines(result)) == 1
        out.checks["5 requests for 4 batches"] = openai.requests == 5
        out.checks["retry counted in usage"] = summary.get("usage", {}).get("retries") == 1
        if wait_line is not None:
            out.checks["waited as Retry-After said"] = any(wait_line in line for line in retry_lines(result))
        out.outcome = f"completed after 1 retry (exit {result.returncode})"
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def openai_429(lab: Lab) -> Outcome:
    from tests.fakes.openai_server import Fault

    return openai_transient(lab, "429 rate limit, Retry-After: 1", lambda: Fault.rate_limit(retry_after_s=1),
                            wait_line="rate limited (429); retry 1 in 1.0 s")


def openai_500(lab: Lab) -> Outcome:
    from tests.fakes.openai_server import Fault

    return openai_transient(lab, "HTTP 500", lambda: Fault.server_error(500))


def openai_slow(lab: Lab) -> Outcome:
    from tests.fakes.openai_server import Fault

    return openai_transient(lab, "slow answer (4 s) past the 2 s timeout", lambda: Fault.slow(4))


def openai_drop(lab: Lab) -> Outcome:
    from tests.fakes.openai_server import Fault

    return openai_transient(lab, "connection dropped unanswered", Fault.dropped)


def openai_down(lab: Lab) -> Outcome:
    """OpenAI fails from the second batch on past the deadline: exit 8 with the first batch stored;
    the next run embeds only the rest."""
    from tests.fakes.openai_server import Fault

    out = Outcome("HTTP 500 from request 2 on, past the 2 s deadline", "OpenAI POST /v1/embeddings, batches 2-4")
    started = time.monotonic()
    with lab.scenario(OPENAI_RETRY_DEADLINE="2") as (env, openai, qdrant):
        for number in range(2, 200):
            openai.inject(Fault.server_error(500), at=number)
        failed = run(lab.index_args(), env)
        out.checks["exit 8"] = failed.returncode == 8
        out.checks["one error line"] = len(error_lines(failed)) == 1
        partial = read_edge(qdrant)
        clear_openai_faults(openai)
        rerun = run(lab.index_args(), env)
        summary = summary_of(rerun)
        out.checks["rerun exit 0"] = rerun.returncode == 0
        out.checks["rerun embeds only the missing"] = summary.get("embedded") == lab.documents - len(partial.hashes)
        out.outcome = (f"exit {failed.returncode} with {len(partial.hashes)} points stored; rerun embedded "
                       f"{summary.get('embedded')}, skipped {summary.get('skipped')}")
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def openai_4xx(lab: Lab) -> Outcome:
    out = Outcome("HTTP 400 with the API's error message", "OpenAI POST /v1/embeddings, request 1")
    started = time.monotonic()
    from tests.fakes.openai_server import Fault

    message = "This model's maximum context length is 8192 tokens"
    with lab.scenario() as (env, openai, qdrant):
        openai.inject(Fault(status=400, code="context_length_exceeded", message=message), at=1)
        failed = run(lab.index_args(), env)
        errors = error_lines(failed)
        out.checks["exit 8"] = failed.returncode == 8
        out.checks["API message shown"] = len(errors) == 1 and message in errors[0]
        out.checks["not retried"] = openai.requests == 1 and not retry_lines(failed)
        out.checks["nothing written"] = read_edge(qdrant).count == 0
        rerun = run(lab.index_args(), env)
        out.checks["rerun exit 0"] = rerun.returncode == 0
        out.outcome = f"exit {failed.returncode} at once, 1 request, nothing written; rerun exit {rerun.returncode}"
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


# -- Qdrant server faults (ServerStore over a qdrant-client that loses its server) ------------------

class FlakyQdrant:
    """Stands in for a `QdrantClient`: forwards every call to a real one (local mode), except that calls
    to `method` numbered `first` .. `first + count - 1` fail the way qdrant-client fails when the server
    is unreachable (`ResponseHandlingException` around `httpx.ConnectError`). With `applied=True` the call
    reaches the server first and only the answer is lost (a read timeout after the write went through)."""

    def __init__(self, inner: Any, method: str = "upsert", first: int = 2, count: int = 1,
                 applied: bool = False) -> None:
        self._inner, self._method, self._first, self._count, self._applied = inner, method, first, count, applied
        self.calls = 0
        self.failed = 0

    def heal(self) -> None:
        self._count = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            import httpx
            from qdrant_client.http.exceptions import ResponseHandlingException

            self.calls += 1
            if self._first <= self.calls < self._first + self._count:
                self.failed += 1
                if self._applied:
                    attr(*args, **kwargs)
                    raise ResponseHandlingException(httpx.ReadTimeout("timed out"))
                raise ResponseHandlingException(httpx.ConnectError("[Errno 111] Connection refused"))
            return attr(*args, **kwargs)

        return call


def _server_run(lab: Lab, client: Any, retry_attempts: int = 5) -> Any:
    from keboola_vectorizer.embedding.openai import OpenAIEmbedder
    from keboola_vectorizer.keboola.snapshot import Snapshot
    from keboola_vectorizer.pipeline import run_index
    from keboola_vectorizer.store.server import ServerOptions, ServerStore

    options = ServerOptions(retry_attempts=retry_attempts, retry_deadline_s=5.0, retry_initial_s=0.05,
                            retry_max_s=0.2)
    store = ServerStore(client, options=options, owns_client=False)
    embedder = OpenAIEmbedder(api_key=lab.openai.api_key, base_url=lab.openai.base_url)
    try:
        return run_index(Snapshot(lab.baseline_snapshot), store, embedder, batch_size=BATCH), store
    except Exception as exc:  # noqa: BLE001 - the scenario reports it
        return exc, store


def qdrant_scenario(lab: Lab, name: str, where: str, *, count: int, applied: bool,
                    expect_failure: bool) -> Outcome:
    import logging

    from qdrant_client import QdrantClient

    from keboola_vectorizer.errors import StoreError

    out = Outcome(name, where)
    started = time.monotonic()
    retries: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retry" in record.getMessage():
                retries.append(record)

    handler = Capture(logging.WARNING)
    logging.getLogger("keboola_vectorizer").addHandler(handler)
    inner = QdrantClient(":memory:")
    flaky = FlakyQdrant(inner, "upsert", first=2, count=count, applied=applied)
    try:
        with lab.scenario() as (_env, openai, _qdrant):
            lab.openai = openai
            result, store = _server_run(lab, flaky)
            if expect_failure:
                out.checks["StoreError (exit 6)"] = isinstance(result, StoreError) and result.exit_code == 6
                out.checks["says unreachable"] = isinstance(result, StoreError) and "unreachable" in result.message
                partial = read_store(store)
                flaky.heal()
                rerun, store = _server_run(lab, flaky)
                out.checks["rerun completes"] = not isinstance(rerun, Exception)
                embedded = getattr(rerun, "embedded", None)
                out.checks["rerun embeds only the missing"] = embedded == lab.documents - len(partial.hashes)
                out.outcome = (f"StoreError after {flaky.failed} failed upserts, {len(partial.hashes)} points "
                               f"kept; rerun embedded {embedded}")
            else:
                out.checks["completes"] = not isinstance(result, Exception)
                out.checks["one log line per retry"] = len(retries) == flaky.failed == count
                out.outcome = f"completed after {flaky.failed} retr{'y' if flaky.failed == 1 else 'ies'}"
            out.settle(lab.baseline, read_store(store))
    finally:
        logging.getLogger("keboola_vectorizer").removeHandler(handler)
        inner.close()
    out.seconds = time.monotonic() - started
    return out


def qdrant_blip(lab: Lab) -> Outcome:
    return qdrant_scenario(lab, "server unreachable for 2 calls (connection refused)",
                           "Qdrant server upsert, batches 2-3", count=2, applied=False, expect_failure=False)


def qdrant_lost_answer(lab: Lab) -> Outcome:
    return qdrant_scenario(lab, "write applied, answer lost (read timeout)", "Qdrant server upsert, batch 2",
                           count=1, applied=True, expect_failure=False)


def qdrant_down(lab: Lab) -> Outcome:
    return qdrant_scenario(lab, "server gone from batch 2 past 5 attempts", "Qdrant server upsert, batch 2 on",
                           count=10_000, applied=False, expect_failure=True)


# -- kill -9 (the CLI in a subprocess) -------------------------------------------------------------

def kill_during_embed(lab: Lab) -> Outcome:
    """SIGKILL while the CLI waits for OpenAI's answer to batch 3 (earlier batches stored or in flight)."""
    from tests.fakes.openai_server import Fault

    out = Outcome("kill -9 while an embed request is in flight", "CLI process, OpenAI request 3 of 4")
    started = time.monotonic()
    with lab.scenario(OPENAI_TIMEOUT="60") as (env, openai, qdrant):
        openai.inject(Fault.slow(60), at=3)
        with index_in_background(lab, env) as process:
            out.checks["request 3 reached"] = wait_for(lambda: openai.requests >= 3, 60)
            time.sleep(0.3)  # let batch 2's upsert land or not: either must converge
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
        out.checks["killed"] = process.returncode == -signal.SIGKILL
        out.outcome, rerun_ok = _resume(lab, env, qdrant, out)
        out.checks["rerun exit 0"] = rerun_ok
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def kill_during_upsert(lab: Lab, nth: int = 3) -> Outcome:
    """SIGKILL in the middle of an upsert: half of the batch's points written, nothing flushed or closed."""
    out = Outcome("kill -9 half-way through an upsert", f"Qdrant Edge upsert of batch {nth} of 4 (WAL unflushed)")
    started = time.monotonic()
    with lab.scenario(KV_TEST_KILL=f"upsert:{nth}") as (env, _openai, qdrant):
        killed = run(lab.index_args(), env, helper=True)
        out.checks["killed"] = killed.returncode == -signal.SIGKILL
        env.pop("KV_TEST_KILL")
        out.outcome, rerun_ok = _resume(lab, env, qdrant, out)
        out.checks["rerun exit 0"] = rerun_ok
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def kill_during_first_upsert(lab: Lab) -> Outcome:
    return kill_during_upsert(lab, nth=1)


def kill_repeatedly(lab: Lab) -> Outcome:
    """Killed half-way through its second upsert, run after run, until a run has too little left to reach
    a second batch: every run makes progress, none undoes another's, the last completes."""
    out = Outcome("kill -9 in every run, until one completes", "Qdrant Edge upsert of batch 2, each run")
    started = time.monotonic()
    with lab.scenario(KV_TEST_KILL="upsert:2") as (env, _openai, qdrant):
        kills, stored = 0, []
        for _ in range(10):
            result = run(lab.index_args(), env, helper=True)
            stored.append(len(read_edge(qdrant).hashes))
            if result.returncode != -signal.SIGKILL:
                break
            kills += 1
        out.checks["progress every run"] = stored == sorted(stored) and len(set(stored)) == len(stored)
        out.checks["last run exit 0"] = result.returncode == 0
        out.outcome = (f"killed {kills} times (points after each run: {', '.join(map(str, stored))}); "
                       f"run {kills + 1} exit {result.returncode}")
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def kill_lock_holder(lab: Lab) -> Outcome:
    """The run holding the lock dies by SIGKILL while blocked on OpenAI: the lock goes with it."""
    out = Outcome("kill -9 of the run holding the lock", "CLI process blocked in embed, lock held")
    started = time.monotonic()
    with lab.scenario(OPENAI_TIMEOUT="60") as (env, openai, qdrant):
        from tests.fakes.openai_server import Fault

        openai.inject(Fault.slow(60), at=1)
        with index_in_background(lab, env) as holder:
            out.checks["holder reached embed"] = wait_for(lambda: openai.requests >= 1, 60)
            busy = run(lab.index_args(), env)
            out.checks["busy while held: exit 9"] = busy.returncode == 9
            holder.send_signal(signal.SIGKILL)
            holder.communicate(timeout=30)
        after = run(lab.index_args(), env)
        out.checks["next run takes the lock at once"] = after.returncode == 0
        out.outcome = (f"while held: exit {busy.returncode}; after kill -9: next run exit {after.returncode} "
                       "with KV_LOCK_TIMEOUT=0 (no wait)")
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def _resume(lab: Lab, env: dict[str, str], qdrant: Path, out: Outcome) -> tuple[str, bool]:
    """Open the killed store (it must open), rerun, and check the rerun embedded exactly what was missing."""
    try:
        partial = read_edge(qdrant)
        out.checks["store opens after kill -9"] = True
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        out.checks["store opens after kill -9"] = False
        out.notes.append(f"store failed to open: {exc}")
        partial = Collection([], {}, 0)
    valid = sum(1 for d, h in partial.hashes.items() if lab.baseline.hashes.get(d) == h)
    rerun = run(lab.index_args(), env)
    summary = summary_of(rerun)
    out.checks["lock free after kill -9"] = rerun.returncode != 9
    out.checks["rerun embeds only the missing"] = summary.get("embedded") == lab.documents - valid
    return (f"killed with {len(partial.hashes)} points stored; rerun exit {rerun.returncode}, "
            f"embedded {summary.get('embedded')}, skipped {summary.get('skipped')}"), rerun.returncode == 0


# -- two index runs at once ------------------------------------------------------------------------

def concurrent_runs(lab: Lab) -> Outcome:
    """A second run while the first holds the lock exits 9 at once; a third, allowed to wait, waits and
    then finds nothing to do; the collection is the undisturbed one."""
    from tests.fakes.openai_server import Fault

    out = Outcome("second and third `index` while one runs", "same QDRANT_PATH and collection")
    started = time.monotonic()
    with lab.scenario() as (env, openai, qdrant):
        openai.inject(Fault.slow(15), at=1)  # holds the lock while others start, even when loaded
        with index_in_background(lab, env) as first:
            out.checks["first holds the lock"] = wait_for(lambda: openai.requests >= 1, 60)
            second = run(lab.index_args(), env)
            errors = error_lines(second)
            out.checks["second exits 9"] = second.returncode == 9
            out.checks["second: one clear line"] = len(errors) == 1 and "another index run" in errors[0]
            waiting = run(lab.index_args(), {**env, "KV_LOCK_TIMEOUT": "60"})
            first.communicate(timeout=120)
        out.checks["first exit 0"] = first.returncode == 0
        out.checks["waiting run exit 0"] = waiting.returncode == 0
        out.checks["waiting run embeds nothing"] = summary_of(waiting).get("embedded") == 0
        out.outcome = (f"first exit {first.returncode}; second exit {second.returncode} at once; third "
                       f"(KV_LOCK_TIMEOUT=60) waited, exit {waiting.returncode}, embedded "
                       f"{summary_of(waiting).get('embedded')}")
        out.settle(lab.baseline, read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


STORAGE = [storage_429, storage_5xx, storage_slow, storage_drop, storage_down, storage_4xx]
OPENAI = [openai_429, openai_500, openai_slow, openai_drop, openai_down, openai_4xx]
QDRANT = [qdrant_blip, qdrant_lost_answer, qdrant_down]
KILL = [kill_during_embed, kill_during_upsert, kill_during_first_upsert, kill_repeatedly]
LOCK = [concurrent_runs, kill_lock_holder]
ALL = STORAGE + OPENAI + QDRANT + KILL + LOCK

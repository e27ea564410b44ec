"""The index run: documents -> diff against stored hashes -> embed the changed -> upsert -> delete stale.

The collection is the record of what is indexed (content hashes live in the points' payload), so a
run that was killed half-way resumes by simply running again: stored batches are skipped, the rest
is embedded. Projects are read one at a time; their changed documents gather in a window of at most
`EMBED_WINDOW` documents, embedded in batches of similar length and stored while the next batch is
embedded, so memory stays flat however large the organisation.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from keboola_vectorizer.embed_once import EmbedOnce
from keboola_vectorizer.embedding.base import Embedder
from keboola_vectorizer.keboola.documents import Document, project_documents
from keboola_vectorizer.keboola.snapshot import ProjectEntry, Snapshot
from keboola_vectorizer.keboola.snapshot_digest import project_digest
from keboola_vectorizer.logging_setup import bind_context, context, current_format, note_failure, unbind_context
from keboola_vectorizer.metrics import get_metrics
from keboola_vectorizer.store.base import (
    SOURCES_KEY,
    CollectionMeta,
    PointRecord,
    SparseVector,
    StoredHashes,
    SupportsOptimize,
    VectorStore,
    batched,
    every_branch,
)
from keboola_vectorizer.vectors import bm25

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 256
# Changed documents embedded together, across projects (a few MB of text and vectors at most).
EMBED_WINDOW = 1024
# Callback: (stage, advance, total so far or None for "unchanged"); a stage's total may grow.
ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass
class RunSummary:
    extracted: int = 0
    embedded: int = 0
    skipped: int = 0
    upserted: int = 0
    deleted: int = 0
    # documents whose text was unchanged but whose payload (row counts, dates...) was written in place
    payload_updated: int = 0
    projects: int = 0
    # projects skipped whole: their files and builders were unchanged since the store took them
    projects_unchanged: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    per_project: dict[str, dict[str, int]] = field(default_factory=dict)
    embedder: str = ""
    collection: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False
    started_at: str = ""
    finished_at: str = ""

    def add_project(self, project_id: int, counts: dict[str, int]) -> None:
        """One project's counts (extracted, embedded, ...: this summary's own fields) into the totals."""
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)
        self.projects += 1
        self.per_project[str(project_id)] = dict(counts)

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + seconds, 4)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = {**self.seconds, "total": round(sum(self.seconds.values()), 4)}
        return data


def collection_meta(embedder: Embedder) -> CollectionMeta:
    return CollectionMeta(embedder_id=embedder.id, dimension=embedder.dimension)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ProjectDiff:
    """What one project's documents mean for the store: what to embed, whose payload alone to
    rewrite, and what to delete."""

    changed: list[Document]
    stale: list[str]
    payload_only: list[Document] = field(default_factory=list)


def diff_documents(documents: list[Document], stored: Mapping[str, StoredHashes]) -> ProjectDiff:
    """Documents to embed (new, or their text hash differs or is not stored: points from before text
    hashes are embedded once), documents whose text is the same but whose payload is not, and stored
    ids whose documents are gone."""
    changed: list[Document] = []
    payload_only: list[Document] = []
    for document in documents:
        hashes = stored.get(document.id)
        if hashes is None or not hashes.text_hash or hashes.text_hash != document.text_hash:
            changed.append(document)
        elif hashes.content_hash != document.content_hash:
            payload_only.append(document)
    current = {d.id for d in documents}
    return ProjectDiff(changed, [doc_id for doc_id in stored if doc_id not in current], payload_only)


def point_payload(document: Document, indexed_at: str) -> dict[str, Any]:
    return {**document.payload, "text": document.text, "content_hash": document.content_hash,
            "text_hash": document.text_hash, "indexed_at": indexed_at}


def to_record(document: Document, dense: Sequence[float], sparse_vector: SparseVector,
              indexed_at: str) -> PointRecord:
    return PointRecord(document.id, dense, sparse_vector, point_payload(document, indexed_at))


def update_payloads(store: VectorStore, documents: Sequence[Document], indexed_at: str,
                    batch_size: int = DEFAULT_BATCH_SIZE) -> None:
    """Rewrite the stored payloads of documents whose text (so vectors) did not change."""
    for batch in batched(documents, batch_size):
        store.overwrite_payload({d.id: point_payload(d, indexed_at) for d in batch})


class _Timer:
    def __init__(self, summary: RunSummary, stage: str) -> None:
        self.summary, self.stage = summary, stage

    def __enter__(self) -> None:
        self.token = bind_context(stage=self.stage)  # log lines inside carry the stage
        self.start = time.perf_counter()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.summary.add_time(self.stage, time.perf_counter() - self.start)
        if exc is not None:
            note_failure(exc)  # the CLI reports the stage a run failed in
        unbind_context(self.token)


def _noop(stage: str, advance: int, total: int | None) -> None:
    return None


def embed_batch(once: EmbedOnce, documents: Sequence[Document], indexed_at: str) -> list[PointRecord]:
    start = time.perf_counter()
    vectors = once.embed([d.text for d in documents])
    get_metrics().embed_latency(time.perf_counter() - start, once.embedder.id.partition("/")[0])
    return [to_record(d, v, bm25.encode_document(d.text), indexed_at)
            for d, v in zip(documents, vectors, strict=True)]


def run_index(
    snapshot: Snapshot,
    store: VectorStore,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    projects: set[int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback = _noop,
    before_upsert: Callable[[int], None] | None = None,
    validate: bool = False,
) -> RunSummary:
    """Index `snapshot` into `store`; with `rebuild`, into a fresh collection switched in at the end.

    With `validate`, every project the run will read is read once first, so a corrupt one fails the
    run before anything is written."""
    summary = RunSummary(embedder=embedder.id, collection=store.name, rebuilt=rebuild, started_at=_now())
    meta = collection_meta(embedder)
    selected = [p for p in snapshot.projects if projects is None or p.id in projects]
    digests = {entry.id: project_digest(snapshot.root, entry, embedder.id) for entry in selected}
    if rebuild:
        if validate:
            snapshot.check({entry.id for entry in selected})
        unchanged: dict[int, int] = {}
        target: VectorStore = store.start_rebuild(meta)
    else:
        store.ensure(meta)
        unchanged = _unchanged_projects(snapshot, store, selected, digests, validate)
        target = store
    indexed_at = _now()
    progress("projects", 0, len(selected))
    stored_sources: dict[str, dict[str, Any]] = {}  # what this run stored, recorded at its end
    once = EmbedOnce(embedder)  # each distinct text reaches the model once
    waiting: dict[int, _ProjectRun] = {}  # projects with documents not stored yet
    window: list[tuple[int, Document]] = []  # changed documents waiting to be embedded
    # Upserts run on one background thread so the model never waits for the store.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsert") as upserter:
        pending: list[tuple[Future[None], Counter[int]]] = []

        def settle_oldest() -> None:
            future, per_project = pending.pop(0)
            future.result()
            for project_id, stored in per_project.items():
                waiting[project_id].left -= stored
                if waiting[project_id].left == 0:
                    waiting.pop(project_id).finish()

        def embed_window() -> None:
            # Sorted by length, every batch holds texts of about one length: padding, which the
            # model pays for like real tokens, stays small (small projects alone pad ~10% more).
            # Equal texts sort next to each other, so EmbedOnce folds them.
            ordered = sorted(window, key=lambda item: (len(item[1].text), item[1].text))
            window.clear()
            for batch in batched(ordered, batch_size):
                per_project = Counter(project_id for project_id, _ in batch)
                # Log lines and errors name the batch's project, or its projects when it spans several.
                token = bind_context(**({"project_id": next(iter(per_project))} if len(per_project) == 1
                                        else {"project_ids": sorted(per_project)}))
                try:
                    with _Timer(summary, "embed"):
                        records = embed_batch(once, [document for _, document in batch], indexed_at)
                    if before_upsert is not None:
                        before_upsert(len(records))
                    # At most two batches wait for the store: memory stays bounded, errors surface early.
                    while len(pending) >= 2:
                        settle_oldest()
                    future = upserter.submit(contextvars.copy_context().run, _timed_upsert, target, records,
                                             summary)
                finally:
                    unbind_context(token)
                pending.append((future, per_project))
                progress("documents", len(batch), None)

        for entry in selected:
            run = _ProjectRun(entry, time.perf_counter())
            if entry.id in unchanged:
                documents_count = unchanged[entry.id]
                run.counts = {"extracted": documents_count, "embedded": 0, "skipped": documents_count,
                              "deleted": 0, "upserted": 0, "payload_updated": 0}
                summary.add_project(entry.id, run.counts)
                summary.projects_unchanged += 1
                progress("projects", 1, None)
                run.finish()
                continue
            token = bind_context(project_id=entry.id)
            try:
                while pending:  # the store is read next; nothing may be writing to it
                    settle_oldest()
                with _Timer(summary, "documents"):
                    project = snapshot.load(entry)
                    documents = list(project_documents(project))
                with _Timer(summary, "diff"):
                    diff = diff_documents(documents, target.stored_hashes(project.id))
                if diff.stale:
                    with _Timer(summary, "delete"):
                        target.delete(diff.stale)
                if diff.payload_only:
                    with _Timer(summary, "payload"):
                        update_payloads(target, diff.payload_only, indexed_at, batch_size)
            finally:
                unbind_context(token)
            changed = diff.changed
            run.counts = {"extracted": len(documents), "embedded": len(changed),
                          "skipped": len(documents) - len(changed), "deleted": len(diff.stale),
                          "upserted": len(changed), "payload_updated": len(diff.payload_only)}
            summary.add_project(project.id, run.counts)
            stored_sources[str(project.id)] = {"digest": digests[entry.id],
                                               "documents": len({d.id for d in documents})}
            progress("projects", 1, None)
            progress("documents", 0, summary.embedded)
            run.left = len(changed)
            if changed:
                waiting[project.id] = run
                window.extend((project.id, document) for document in changed)
            else:
                run.finish()
            if len(window) >= EMBED_WINDOW:
                embed_window()
        embed_window()
        while pending:
            settle_oldest()
    if summary.upserted and isinstance(target, SupportsOptimize) and target.should_optimize():
        # A store without a background optimizer (Edge) indexes what runs left unindexed once it
        # is enough to matter.
        with _Timer(summary, "optimize"):
            target.optimize()
    if rebuild:
        with _Timer(summary, "promote"):
            store.promote(target)
    _report_stages(summary)
    summary.usage = {k: v for k, v in asdict(embedder.usage).items() if v}
    summary.finished_at = _now()
    # Written only now, when every document of these projects is stored: a run that fails records
    # nothing, and its projects are diffed again next time.
    _write_last_run(store, summary, sources=stored_sources, replace_sources=rebuild)
    return summary


def _unchanged_projects(snapshot: Snapshot, store: VectorStore, selected: list[ProjectEntry],
                        digests: Mapping[int, str], validate: bool) -> dict[int, int]:
    """The projects to skip, with their document counts; the others are checked (with `validate`)
    and their recorded sources forgotten before anything is written."""
    state = store.read_state()
    sources = state.get(SOURCES_KEY)
    recorded: dict[str, Any] = dict(sources) if isinstance(sources, dict) else {}
    unchanged = {entry.id: recorded[str(entry.id)]["documents"] for entry in selected
                 if _unchanged(store, entry.id, digests[entry.id], recorded.get(str(entry.id)))}
    to_read = {entry.id for entry in selected} - set(unchanged)
    if validate:
        snapshot.check(to_read)
    forget = {str(project_id) for project_id in to_read} & set(recorded)
    if forget:
        # Forgotten before their points change: should this run fail half-way and the files then
        # go back to what was recorded, the half-written project must not pass as unchanged.
        store.write_state({**state, SOURCES_KEY: {key: value for key, value in recorded.items() if key not in forget}})
    return unchanged


def _unchanged(store: VectorStore, project_id: int, digest: str, recorded: Any) -> bool:
    """The project's sources are those the store took, and the store still holds that many of its
    points (a restored, dropped or hand-edited collection is read again)."""
    if not isinstance(recorded, dict) or recorded.get("digest") != digest:
        return False
    documents = recorded.get("documents")
    return isinstance(documents, int) and store.count(every_branch(project_ids=[project_id])) == documents


def _write_last_run(store: VectorStore, summary: RunSummary, *, sources: Mapping[str, Any] | None = None,
                    replace_sources: bool = False, forget: Iterable[str] = ()) -> None:
    """Merged, not replaced: the state also holds `watch`'s cursors (keboola_vectorizer/watch/cursor.py)
    and the sources of projects this run did not read. `forget` drops the sources of projects written
    by other means than an index run."""
    state = store.read_state()
    known = {} if replace_sources else dict(state.get(SOURCES_KEY) or {})
    for project_id in forget:
        known.pop(project_id, None)
    known.update(sources or {})
    store.write_state({**state, "last_run": summary.to_json(), SOURCES_KEY: known})


def _timed_upsert(store: VectorStore, records: list[PointRecord], summary: RunSummary) -> None:
    start = time.perf_counter()
    with context(stage="upsert"):
        store.upsert(records)
    seconds = time.perf_counter() - start
    summary.add_time("upsert", seconds)
    get_metrics().upsert_latency(seconds)


@dataclass
class _ProjectRun:
    """A project in an index run; done when its last changed document is stored."""

    entry: ProjectEntry
    started: float
    counts: dict[str, int] = field(default_factory=dict)
    left: int = 0

    def finish(self) -> None:
        """Its counts and duration go to the metrics, and a line to the log."""
        seconds = time.perf_counter() - self.started
        metrics = get_metrics()
        metrics.project_counts(self.entry.id, self.counts)
        metrics.project_duration(self.entry.id, seconds)
        # A line per project for the container's JSON logs; on a terminal the summary table says it.
        with context(project_id=self.entry.id):
            log.log(logging.INFO if current_format() == "json" else logging.DEBUG,
                    "project %s indexed: %s", self.entry.id, ", ".join(f"{k} {v}" for k, v in self.counts.items()),
                    extra={"project_id": self.entry.id, **self.counts, "seconds": round(seconds, 3)})


def _report_stages(summary: RunSummary) -> None:
    metrics = get_metrics()
    for stage, seconds in summary.seconds.items():
        metrics.stage_duration(stage, seconds)


def iter_documents(snapshot: Snapshot) -> Iterable[Document]:
    for project in snapshot.iter_projects():
        yield from project_documents(project)

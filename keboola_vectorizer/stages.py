"""The embed and upsert stages on their own (`embed`, `upsert`): what `index` does in one pass, split
around a JSON Lines vectors file so the two halves can run on different machines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from keboola_vectorizer.embed_once import EmbedOnce
from keboola_vectorizer.embedding.base import Embedder
from keboola_vectorizer.errors import SnapshotError
from keboola_vectorizer.keboola.documents import Document, project_documents
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import (
    DEFAULT_BATCH_SIZE,
    ProgressCallback,
    RunSummary,
    _noop,
    _now,
    _Timer,
    _write_last_run,
    diff_documents,
    to_record,
    update_payloads,
)
from keboola_vectorizer.store.base import CollectionMeta, SparseVector, VectorStore, batched
from keboola_vectorizer.vectors import bm25


def vectors_path(snapshot: Snapshot, out: Path | None = None) -> Path:
    return out or snapshot.root / "vectors.jsonl"


def run_embed_stage(snapshot: Snapshot, store: VectorStore | None, embedder: Embedder, out: Path,
                    *, batch_size: int = DEFAULT_BATCH_SIZE,
                    progress: ProgressCallback = _noop) -> RunSummary:
    """Embed what the store lacks (everything, without a store) into a JSON Lines vectors file."""
    summary = RunSummary(embedder=embedder.id, collection=store.name if store else "", started_at=_now())
    tmp = out.with_name(out.name + ".partial")
    once = EmbedOnce(embedder)
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"embedder": embedder.id, "dimension": embedder.dimension}) + "\n")
        for project in snapshot.iter_projects():
            documents = list(project_documents(project))
            changed = diff_documents(documents, store.stored_hashes(project.id) if store is not None else {}).changed
            summary.extracted += len(documents)
            summary.skipped += len(documents) - len(changed)
            progress("documents", 0, summary.embedded + len(changed))
            for batch in batched(changed, batch_size):
                with _Timer(summary, "embed"):
                    vectors = once.embed([d.text for d in batch])
                for document, vector in zip(batch, vectors, strict=True):
                    sparse_vector = bm25.encode_document(document.text)
                    handle.write(json.dumps({
                        "id": document.id, "content_hash": document.content_hash, "text_hash": document.text_hash,
                        "dense": [round(float(x), 7) for x in vector],
                        "sparse": {"indices": sparse_vector.indices, "values": sparse_vector.values},
                    }) + "\n")
                summary.embedded += len(batch)
                progress("documents", len(batch), None)
            summary.projects += 1
    tmp.replace(out)
    summary.usage = {k: v for k, v in asdict(embedder.usage).items() if v}
    summary.finished_at = _now()
    return summary


def _vectors_match(row: dict[str, Any], document: Document) -> bool:
    """Vectors depend on the text alone; files written before text hashes compare the content hash."""
    if row.get("text_hash"):
        return row["text_hash"] == document.text_hash
    return bool(row) and row.get("content_hash") == document.content_hash


def read_vectors(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    if not path.is_file():
        raise SnapshotError(f"vectors file {path} does not exist",
                            "run `keboola-vectorizer embed --snapshot DIR` first")
    handle = path.open(encoding="utf-8")
    try:
        header = json.loads(handle.readline())
    except ValueError:
        handle.close()
        raise SnapshotError(f"vectors file {path} is corrupt",
                            "run `keboola-vectorizer embed` again") from None

    def rows() -> Iterator[dict[str, Any]]:
        with handle:
            for number, line in enumerate(handle, start=2):
                try:
                    yield json.loads(line)
                except ValueError:
                    raise SnapshotError(f"vectors file {path} line {number} is corrupt",
                                        "run `keboola-vectorizer embed` again") from None

    return header, rows()


def run_upsert_stage(snapshot: Snapshot, store: VectorStore, vectors_file: Path,
                     *, batch_size: int = DEFAULT_BATCH_SIZE,
                     progress: ProgressCallback = _noop) -> RunSummary:
    """Upsert vectors written by the embed stage; delete points whose documents are gone."""
    header, rows = read_vectors(vectors_file)
    meta = CollectionMeta(embedder_id=str(header.get("embedder")), dimension=int(header.get("dimension", 0)))
    store.ensure(meta)
    summary = RunSummary(embedder=meta.embedder_id, collection=store.name, started_at=_now())
    vectors = {row["id"]: row for row in rows}
    indexed_at = _now()
    for project in snapshot.iter_projects():
        documents = list(project_documents(project))
        diff = diff_documents(documents, store.stored_hashes(project.id))
        changed = diff.changed
        missing = [d.id for d in changed if not _vectors_match(vectors.get(d.id, {}), d)]
        if missing:
            raise SnapshotError(
                f"{len(missing)} changed documents have no vectors in {vectors_file} (first: {missing[0]})",
                "run `keboola-vectorizer embed` on this snapshot again",
            )
        summary.extracted += len(documents)
        summary.skipped += len(documents) - len(changed)
        for batch in batched(changed, batch_size):
            records = [to_record(d, vectors[d.id]["dense"],
                                 SparseVector(vectors[d.id]["sparse"]["indices"],
                                              vectors[d.id]["sparse"]["values"]), indexed_at)
                       for d in batch]
            with _Timer(summary, "upsert"):
                store.upsert(records)
            summary.upserted += len(records)
            progress("documents", len(records), None)
        store.delete(diff.stale)
        update_payloads(store, diff.payload_only, indexed_at, batch_size)
        summary.deleted += len(diff.stale)
        summary.payload_updated += len(diff.payload_only)
        summary.projects += 1
    summary.finished_at = _now()
    # The next index run reads these projects again rather than trusting digests this stage did not write.
    _write_last_run(store, summary, forget=[str(project_id) for project_id in snapshot.project_ids])
    return summary

"""Index benchmark: the project's pipeline against the model alone and against LangChain's indexing API.

For each size N it generates (once, cached in --workdir) an organisation of about N documents with
the project's demo organisation generator (scripts/gen_snapshot.py), then measures, each phase in
its own process so that its peak RSS is its own:

  encode-torch   the model alone: SentenceTransformer.encode (PyTorch, batch 64) over the documents'
                 texts, model loaded and warmed first; docs/s. On a random sample of --encode-sample
                 texts when N is larger (throughput does not depend on N).
  encode-onnx    the same texts through the ONNX Runtime export the project embeds with by default.
  index          `run_index` (real snapshot reader, documents, diff, dense + BM25, Edge upserts) into a
                 fresh store, embedder created and warmed first. Above --model-max the dense vectors
                 come from a stand-in that hashes texts into random unit vectors ("pipeline only": all
                 of the pipeline except the model), and the full run is estimated as pipeline-only
                 seconds + N / encode-onnx docs/s (marked ~).
  rerun          `run_index` again over the unchanged snapshot (nothing to embed).
  rerun-1%       `run_index` after 1% of the documents changed (the real model embeds them).
  peer           LangChain `index()` with `SQLRecordManager` (SQLite) into `QdrantVectorStore` over
                 qdrant-client's local mode on disk (`QdrantClient(path=...)`), incremental clean-up,
                 default batch size; embeddings = the same model through sentence-transformers (what
                 `HuggingFaceEmbeddings` does). Above --peer-max: the same stand-in vectors
                 (pipeline only) and an estimate from encode-torch, marked ~.
  peer-rerun, peer-rerun-1%   the same reruns through LangChain.

    python scripts/bench_index.py --sizes 2000 10000 100000 --workdir /tmp/kv-bench --out results.json

Peak RSS is the phase process's own maximum resident set (getrusage), model included; peak anon
is its anonymous memory alone (RssAnon sampled every 50 ms: RSS also counts the mapped pages of
Qdrant's segment files, which the kernel can drop). "Share spent in the model" is the seconds inside
`embed_documents` over the run's seconds, measured in the same run, so the machine's load does not
skew it the way it skews two separately timed runs. docs/benchmarks.md explains every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DIMENSION = 384
MODEL_ID = "local/all-MiniLM-L6-v2@384"


# -- helpers shared by the phases ---------------------------------------------------------------

def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class MemorySampler:
    """Peak anonymous and file-backed resident memory, sampled from /proc/self/status (Linux).

    RSS counts the pages of memory-mapped files the process touched (Qdrant's segment files) as
    well as its own heap; the kernel can drop the former under pressure, not the latter. So the
    anonymous peak is what a process needs; the RSS peak is what `top` shows.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.peaks: dict[str, float] = {"RssAnon": 0.0, "RssFile": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _sample(self) -> None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in self.peaks:
                    self.peaks[key] = max(self.peaks[key], int(value.split()[0]) / 1024)
        except (OSError, ValueError, IndexError):
            pass

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._sample()

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {"peak_anon_mb": round(self.peaks["RssAnon"], 1), "peak_file_mb": round(self.peaks["RssFile"], 1)}


def stand_in_vectors(texts: Sequence[str]) -> np.ndarray:
    """Deterministic random unit vectors (a text always gets the same one): the model's stand-in."""
    out = np.empty((len(texts), DIMENSION), dtype=np.float32)
    for row, text in enumerate(texts):
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        out[row] = np.random.default_rng(seed).standard_normal(DIMENSION, dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class StandInEmbedder:
    """The Embedder protocol with stand-in vectors, under the real model's id (so the real model can
    embed the reruns into the same collection and search it)."""

    name = "local"

    def __init__(self) -> None:
        from keboola_vectorizer.embedding.base import EmbeddingUsage

        self.usage = EmbeddingUsage()

    @property
    def id(self) -> str:
        return MODEL_ID

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.usage.inputs += len(texts)
        return stand_in_vectors(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return stand_in_vectors([text])[0]


class TimedEmbedder:
    """Delegates to an embedder and sums the seconds spent inside it: the model's share of a run
    is a figure the machine's load does not skew (both sides slow down together)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds = inner, 0.0
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def usage(self) -> Any:
        return self.inner.usage

    def embed_documents(self, texts: Sequence[str]) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - start

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)


def texts_of(snapshot_dir: Path, sample: int | None, seed: int = 3) -> list[str]:
    from keboola_vectorizer.keboola.snapshot import Snapshot
    from keboola_vectorizer.pipeline import iter_documents

    texts = [d.text for d in iter_documents(Snapshot(snapshot_dir))]
    if sample and len(texts) > sample:
        texts = random.Random(seed).sample(texts, sample)
    return texts


def real_embedder(backend: str) -> Any:
    os.environ["KEBOOLA_VECTORIZER_EMBEDDING_BACKEND"] = backend
    from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder

    embedder = create_embedder(EmbeddingSettings(provider="local", local_backend=backend))
    embedder.embed_documents(["warm up the model", "and its session"])
    embedder.embed_query("warm up")
    return embedder


# -- phases (each runs in its own process) ------------------------------------------------------

def phase_encode(args: argparse.Namespace) -> dict[str, Any]:
    texts = texts_of(args.snapshot, args.encode_sample)
    from keboola_vectorizer.embedding import onnx_backend
    from keboola_vectorizer.embedding.local import bundled_model_path

    path = bundled_model_path()
    if args.backend == "torch":
        onnx_backend.quiet_offline_env()
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu")

        def encode(batch: list[str]) -> Any:
            return model.encode(batch, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
    else:
        encoder = onnx_backend.OnnxEncoder(path, onnx_backend.export(path))
        encode = encoder.encode
    encode(texts[:16])
    start = time.perf_counter()
    encode(texts)
    seconds = time.perf_counter() - start
    return {"texts": len(texts), "seconds": round(seconds, 3), "docs_per_s": round(len(texts) / seconds, 2)}


def _index_run(args: argparse.Namespace, embedder: Any) -> dict[str, Any]:
    from keboola_vectorizer.keboola.snapshot import Snapshot
    from keboola_vectorizer.pipeline import run_index
    from keboola_vectorizer.store.edge import EdgeStore

    store = EdgeStore(args.store)
    timed = TimedEmbedder(embedder)
    try:
        start = time.perf_counter()
        summary = run_index(Snapshot(args.snapshot), store, timed)
        seconds = time.perf_counter() - start
    finally:
        store.close()
    return {"documents": summary.extracted, "embedded": summary.embedded, "seconds": round(seconds, 3),
            "projects": summary.projects, "projects_unchanged": summary.projects_unchanged,
            "stages": summary.seconds, "docs_per_s": round(summary.extracted / seconds, 2),
            "model_s": round(timed.seconds, 3), "model_share": round(timed.seconds / seconds, 4)}


def phase_index(args: argparse.Namespace) -> dict[str, Any]:
    embedder = StandInEmbedder() if args.stand_in else real_embedder(args.backend)
    return {**_index_run(args, embedder), "backend": "stand-in" if args.stand_in else embedder.backend}


def phase_rerun(args: argparse.Namespace) -> dict[str, Any]:
    # Unchanged runs never load the model (it is created lazily); changed runs pay its load here,
    # before the timer, as a long-running indexer would have it loaded.
    return _index_run(args, real_embedder(args.backend))


def _peer_embeddings(stand_in: bool) -> Any:
    from langchain_core.embeddings import Embeddings

    if stand_in:
        class StandIn(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return stand_in_vectors(texts).tolist()

            def embed_query(self, text: str) -> list[float]:
                return stand_in_vectors([text])[0].tolist()

        return StandIn()
    from keboola_vectorizer.embedding import onnx_backend
    from keboola_vectorizer.embedding.local import bundled_model_path

    onnx_backend.quiet_offline_env()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")

    class SentenceTransformerEmbeddings(Embeddings):
        """What langchain_huggingface.HuggingFaceEmbeddings does (encode, no progress bar)."""

        seconds = 0.0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            start = time.perf_counter()
            vectors = model.encode(texts, show_progress_bar=False, normalize_embeddings=True).tolist()
            SentenceTransformerEmbeddings.seconds += time.perf_counter() - start
            return vectors

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    embeddings = SentenceTransformerEmbeddings()
    embeddings.embed_documents(["warm up the model", "and its session"])
    SentenceTransformerEmbeddings.seconds = 0.0
    return embeddings


def _peer_documents(snapshot_dir: Path) -> Iterator[Any]:
    from langchain_core.documents import Document as LCDocument

    from keboola_vectorizer.keboola.snapshot import Snapshot
    from keboola_vectorizer.pipeline import iter_documents

    for document in iter_documents(Snapshot(snapshot_dir)):
        yield LCDocument(page_content=document.text, metadata={**document.payload, "source": document.id},
                         id=document.id)


def phase_peer(args: argparse.Namespace) -> dict[str, Any]:
    from langchain_classic.indexes import SQLRecordManager, index
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient
    from qdrant_client.http.models import Distance, VectorParams

    embeddings = _peer_embeddings(args.stand_in)
    args.store.mkdir(parents=True, exist_ok=True)
    client = QdrantClient(path=str(args.store / "qdrant"))
    if not client.collection_exists("peer"):
        client.create_collection("peer", vectors_config=VectorParams(size=DIMENSION, distance=Distance.COSINE))
    store = QdrantVectorStore(client=client, collection_name="peer", embedding=embeddings)
    records = SQLRecordManager("qdrant/peer", db_url=f"sqlite:///{args.store / 'records.sqlite'}")
    records.create_schema()
    start = time.perf_counter()
    result = index(_peer_documents(args.snapshot), records, store, cleanup="incremental", source_id_key="source")
    seconds = time.perf_counter() - start
    client.close()
    documents = sum(int(result.get(k, 0)) for k in ("num_added", "num_updated", "num_skipped"))
    model_s = float(getattr(embeddings, "seconds", 0.0))
    return {"model_s": round(model_s, 3), "model_share": round(model_s / seconds, 4) if seconds else 0.0,
            "documents": documents, "embedded": int(result.get("num_added", 0)) + int(result.get("num_updated", 0)),
            "deleted": int(result.get("num_deleted", 0)), "seconds": round(seconds, 3),
            "docs_per_s": round(documents / seconds, 2) if seconds else 0.0,
            "backend": "stand-in" if args.stand_in else "torch"}


PHASES = {"encode": phase_encode, "index": phase_index, "rerun": phase_rerun, "peer": phase_peer}


def run_phase(name: str, **options: Any) -> dict[str, Any]:
    """Run one phase in a child process; its result plus its peak RSS and wall time."""
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", name]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        elif value not in (None, False):
            command += [f"--{key.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 2)
    return result


# -- the driver ---------------------------------------------------------------------------------

def snapshot_for(workdir: Path, size: int) -> tuple[Path, int]:
    sys.path.insert(0, str(HERE))
    from gen_snapshot import generate

    path = workdir / f"org-{size}"
    meta = path / "generated.json"
    if not meta.is_file():
        shutil.rmtree(path, ignore_errors=True)
        generate(path, size)
    return path, int(json.loads(meta.read_text())["documents"])


def mutate(snapshot: Path, fraction: float) -> int:
    sys.path.insert(0, str(HERE))
    from gen_snapshot import mutate as mutate_snapshot

    return mutate_snapshot(snapshot, fraction, tag=f"bench-{time.time_ns()}")


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("torch", "sentence-transformers", "onnxruntime", "qdrant-edge-py", "qdrant-client",
                    "langchain-core", "langchain-classic", "langchain-qdrant"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = None
    memory = None
    with contextlib.suppress(OSError, ValueError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu,
            "cores": os.cpu_count(), "memory_gib": memory, "python": platform.python_version(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()], "versions": versions,
            "command": " ".join([Path(sys.executable).name, *sys.argv])}


def bench_size(args: argparse.Namespace, size: int) -> dict[str, Any]:
    snapshot, documents = snapshot_for(args.workdir, size)
    log(f"N={size}: {documents} documents in {snapshot}")
    result: dict[str, Any] = {"requested": size, "documents": documents}
    sample = args.encode_sample if documents > args.encode_sample else None
    for backend in ("torch", "onnx"):
        result[f"encode_{backend}"] = run_phase("encode", snapshot=snapshot, backend=backend, encode_sample=sample)
        log(f"  encode {backend}: {result[f'encode_{backend}']['docs_per_s']} docs/s")
    store = args.workdir / f"store-{size}"
    peer_store = args.workdir / f"peer-{size}"
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(peer_store, ignore_errors=True)
    stand_in = documents > args.model_max
    result["index"] = run_phase("index", snapshot=snapshot, store=store, backend=args.backend, stand_in=stand_in)
    log(f"  index: {result['index']['seconds']} s ({result['index']['backend']})")
    result["rerun"] = run_phase("rerun", snapshot=snapshot, store=store, backend=args.backend)
    log(f"  rerun: {result['rerun']['seconds']} s")
    peer_stand_in = documents > args.peer_max
    if not args.no_peer:
        result["peer"] = run_phase("peer", snapshot=snapshot, store=peer_store, stand_in=peer_stand_in)
        log(f"  peer: {result['peer']['seconds']} s ({result['peer']['backend']})")
        result["peer_rerun"] = run_phase("peer", snapshot=snapshot, store=peer_store, stand_in=True)
        log(f"  peer rerun: {result['peer_rerun']['seconds']} s")
    result["changed"] = mutate(snapshot, args.change)
    result["rerun_changed"] = run_phase("rerun", snapshot=snapshot, store=store, backend=args.backend)
    log(f"  rerun {args.change:.0%}: {result['rerun_changed']['seconds']} s")
    if not args.no_peer:
        result["peer_rerun_changed"] = run_phase("peer", snapshot=snapshot, store=peer_store,
                                                 stand_in=peer_stand_in)
        log(f"  peer rerun {args.change:.0%}: {result['peer_rerun_changed']['seconds']} s")
    if args.keep_stores:
        # bench_search labels its figures by where the dense vectors came from.
        (store / "VECTORS").write_text("stand-in" if stand_in else "model")
    else:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(peer_store, ignore_errors=True)
    derive(result)
    return result


def derive(r: dict[str, Any]) -> None:
    """Full-run seconds (measured, or estimated from a pipeline-only run) and the ratios."""
    n = r["documents"]
    onnx_rate, torch_rate = r["encode_onnx"]["docs_per_s"], r["encode_torch"]["docs_per_s"]
    index = r["index"]
    r["raw_encode_s"] = {"onnx": round(n / onnx_rate, 2), "torch": round(n / torch_rate, 2)}
    model_backend = "onnx" if index["backend"] in ("onnx", "stand-in") else "torch"
    if index["backend"] == "stand-in":
        r["full_s"], r["full_estimated"] = round(index["seconds"] + n / onnx_rate, 2), True
    else:
        r["full_s"], r["full_estimated"] = index["seconds"], False
    r["model_backend"] = model_backend
    r["index_vs_encode"] = round(r["raw_encode_s"][model_backend] / r["full_s"], 3)
    r["index_vs_encode_torch"] = round(r["raw_encode_s"]["torch"] / r["full_s"], 3)
    r["rerun_share"] = round(r["rerun"]["seconds"] / r["full_s"], 4)
    r["rerun_changed_share"] = round(r["rerun_changed"]["seconds"] / r["full_s"], 4)
    if "peer" in r:
        peer = r["peer"]
        if peer["backend"] == "stand-in":
            r["peer_full_s"], r["peer_estimated"] = round(peer["seconds"] + n / torch_rate, 2), True
        else:
            r["peer_full_s"], r["peer_estimated"] = peer["seconds"], False
        r["vs_peer"] = round(r["peer_full_s"] / r["full_s"], 3)


def fmt_s(seconds: float, estimated: bool = False) -> str:
    return f"{'~' if estimated else ''}{seconds:,.1f}"


def table(results: list[dict[str, Any]], change: float) -> str:
    rows = [
        ("documents", lambda r: f"{r['documents']:,}"),
        ("raw encode, PyTorch (docs/s)", lambda r: f"{r['encode_torch']['docs_per_s']:,.1f}"),
        ("raw encode, ONNX Runtime (docs/s)", lambda r: f"{r['encode_onnx']['docs_per_s']:,.1f}"),
        ("full index (s)", lambda r: fmt_s(r["full_s"], r["full_estimated"])),
        ("  of which pipeline-only run (s)",
         lambda r: fmt_s(r["index"]["seconds"]) if r["index"]["backend"] == "stand-in" else "-"),
        ("full index / raw encode, same backend", lambda r: f"{r['index_vs_encode']:.2f}x"),
        ("full index / raw encode PyTorch", lambda r: f"{r['index_vs_encode_torch']:.2f}x"),
        ("share of the full index spent in the model",
         lambda r: f"{r['index']['model_share']:.1%}" if r["index"]["backend"] != "stand-in" else "-"),
        ("unchanged rerun (s)", lambda r: fmt_s(r["rerun"]["seconds"])),
        ("unchanged rerun / full", lambda r: f"{r['rerun_share']:.2%}"),
        (f"{change:.0%}-changed rerun (s)", lambda r: fmt_s(r["rerun_changed"]["seconds"])),
        ("projects skipped unchanged: rerun / changed rerun",
         lambda r: f"{r['rerun'].get('projects_unchanged', 0)} / {r['rerun_changed'].get('projects_unchanged', 0)}"
                   f" of {r['rerun'].get('projects', 0)}"),
        ("peak RSS full index (MB)", lambda r: f"{r['index']['peak_rss_mb']:,.0f}"),
        ("peak RSS rerun / changed (MB)",
         lambda r: f"{r['rerun']['peak_rss_mb']:,.0f} / {r['rerun_changed']['peak_rss_mb']:,.0f}"),
        ("LangChain full index (s)", lambda r: fmt_s(r["peer_full_s"], r["peer_estimated"]) if "peer" in r else "-"),
        ("LangChain unchanged rerun (s)", lambda r: fmt_s(r["peer_rerun"]["seconds"]) if "peer" in r else "-"),
        (f"LangChain {change:.0%}-changed rerun (s)",
         lambda r: (fmt_s(r["peer_rerun_changed"]["seconds"])
                    + (" (stand-in vectors)" if r["peer_rerun_changed"]["backend"] == "stand-in" else ""))
         if "peer" in r else "-"),
        ("LangChain peak RSS reruns (MB)",
         lambda r: f"{r['peer_rerun']['peak_rss_mb']:,.0f} / {r['peer_rerun_changed']['peak_rss_mb']:,.0f}"
         if "peer" in r else "-"),
        ("LangChain: share spent in the model",
         lambda r: f"{r['peer']['model_share']:.1%}" if "peer" in r and r["peer"]["backend"] != "stand-in" else "-"),
        ("LangChain peak RSS full index (MB)", lambda r: f"{r['peer']['peak_rss_mb']:,.0f}" if "peer" in r else "-"),
        ("project / LangChain (speed)", lambda r: f"{r['vs_peer']:.2f}x" if "peer" in r else "-"),
    ]
    header = "| | " + " | ".join(f"N = {r['requested']:,}" for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    lines += [f"| {label} | " + " | ".join(cell(r) for r in results) + " |" for label, cell in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 100000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/keboola-vectorizer-bench"))
    parser.add_argument("--encode-sample", type=int, default=2000,
                        help="raw encode throughput on this many random texts when N is larger")
    parser.add_argument("--model-max", type=int, default=10000,
                        help="largest N whose full index runs the real model (above: pipeline only + estimate)")
    parser.add_argument("--peer-max", type=int, default=10000,
                        help="largest N whose LangChain run uses the real model (above: pipeline only + estimate)")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                        help="the project's embedding backend (KEBOOLA_VECTORIZER_EMBEDDING_BACKEND)")
    parser.add_argument("--change", type=float, default=0.01, help="share of documents changed before rerun")
    parser.add_argument("--no-peer", action="store_true", help="skip LangChain")
    parser.add_argument("--keep-stores", action="store_true", help="keep the project's stores (bench_search uses them)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    # phase options (internal)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase:
        os.environ.setdefault("DD_DOGSTATSD_DISABLE", "true")
        sampler = MemorySampler().start()
        result = PHASES[args.phase](args)
        result.update(sampler.stop())
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    args.workdir.mkdir(parents=True, exist_ok=True)
    # The export is a one-time cost of the first run on a machine, not part of any figure.
    run_phase("encode", snapshot=bundled_sample(), backend="onnx", encode_sample=16)
    info = machine()
    results = []
    for size in args.sizes:
        results.append(bench_size(args, size))
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {"machine": info, "change": args.change, "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    print(f"\n{info['date']}  {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
          f"load average {info['load_average_start']} -> {info['load_average_end']}")
    print(table(results, args.change))
    return 0


def bundled_sample() -> Path:
    from keboola_vectorizer.demo_org import demo_snapshot_dir

    return demo_snapshot_dir()


if __name__ == "__main__":
    sys.exit(main())

"""Index speed as ratios measured in one run, so a shared machine's load cancels out: the project's
full index (fp32 and int8 weights) against sentence-transformers' plain encode of the same texts,
phases alternating, and the unchanged rerun against the full index.

    python scripts/bench_ratio.py --projects 10 [--rounds 2] [--workdir /tmp/kv-bench-ratio]

--projects sizes the generated demo organisation (keboola_vectorizer/demo_org; 10 projects is the
demo, about 1,650 documents). Prints one line per phase and round, then the ratios (medians).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from keboola_vectorizer.demo_org import generate_organisation  # noqa: E402
from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder  # noqa: E402
from keboola_vectorizer.embedding.local_model import bundled_model_path  # noqa: E402
from keboola_vectorizer.keboola.snapshot import Snapshot  # noqa: E402
from keboola_vectorizer.pipeline import iter_documents, run_index  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402


def encode_plain(model: object, texts: list[str]) -> float:
    start = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)  # type: ignore[attr-defined]
    return time.perf_counter() - start


def index_once(snapshot: Snapshot, store_dir: Path, weights: str) -> tuple[float, float]:
    """(full index seconds, unchanged rerun seconds), the embedder created and warmed outside."""
    shutil.rmtree(store_dir, ignore_errors=True)
    embedder = create_embedder(EmbeddingSettings(provider="local", onnx_weights=weights))
    embedder.embed_documents(["warm up"])
    store = EdgeStore(store_dir)
    try:
        start = time.perf_counter()
        run_index(snapshot, store, embedder)
        full = time.perf_counter() - start
        cold = create_embedder(EmbeddingSettings(provider="local", onnx_weights=weights))  # never warmed
        start = time.perf_counter()
        summary = run_index(snapshot, store, cold)
        rerun = time.perf_counter() - start
        assert summary.embedded == 0 and getattr(cold, "_onnx", None) is None, "rerun loaded the model"
    finally:
        store.close()
    return full, rerun


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kv-bench-ratio"))
    args = parser.parse_args()
    snapshot_dir = args.workdir / f"org-{args.projects}"
    if not (snapshot_dir / "projects.json").is_file():
        generate_organisation(snapshot_dir, projects=args.projects)
    snapshot = Snapshot(snapshot_dir)
    texts = [d.text for d in iter_documents(snapshot)]
    print(f"{len(texts)} documents ({args.projects} projects), {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.encode(["warm up"])
    seconds: dict[str, list[float]] = {}
    for round_number in range(args.rounds):
        for phase in ("st-encode", "index-fp32", "index-int8"):
            if phase == "st-encode":
                measured = {"st-encode": encode_plain(model, texts)}
            else:
                weights = phase.rsplit("-", 1)[1]
                full, rerun = index_once(snapshot, args.workdir / f"store-{weights}", weights)
                measured = {phase: full, f"rerun-{weights}": rerun}
            for name, value in measured.items():
                seconds.setdefault(name, []).append(value)
                print(f"round {round_number + 1} {name:<12} {value:8.2f} s  {len(texts) / value:8.1f} docs/s",
                      flush=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    for weights in ("fp32", "int8"):
        print(f"index {weights}: {median['st-encode'] / median[f'index-{weights}']:.2f}x sentence-transformers' "
              f"encode; unchanged rerun {median[f'rerun-{weights}'] / median[f'index-{weights}']:.2%} of a full run")


if __name__ == "__main__":
    main()

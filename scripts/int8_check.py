#!/usr/bin/env python3
"""int8 against fp32 on real document texts, in one run: cosine of each vector to its fp32 twin, how
often the ten nearest documents of a query stay the same, and the encode speed ratio.

Compares ONNX Runtime's two dynamic quantizations (one scale per weight tensor, one per output
channel) with the fp32 export the embedder uses; the search-quality gate is `scripts/eval_all.py
--weights int8`.

    python scripts/int8_check.py [SNAPSHOT_DIR] [--sample 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from keboola_vectorizer.embedding.local_model import resolve_model_path  # noqa: E402
from keboola_vectorizer.embedding.onnx_backend import OnnxEncoder, cached_export  # noqa: E402
from keboola_vectorizer.keboola.snapshot import Snapshot  # noqa: E402
from keboola_vectorizer.pipeline import iter_documents  # noqa: E402

QUERIES = ("which table holds revenue by month", "customer churn", "orders with refunds by country",
           "what feeds the sessions table", "the extractor for the CRM", "invoice line items")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", nargs="?", type=Path, help="snapshot directory (default: the demo organisation)")
    parser.add_argument("--sample", type=int, default=400, help="documents to encode")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant (median)")
    args = parser.parse_args()
    if args.snapshot is None:
        from keboola_vectorizer.demo_org.cache import demo_snapshot_dir

        args.snapshot = demo_snapshot_dir()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _, model_path = resolve_model_path(None)
    exported = cached_export(model_path)
    if exported is None:
        raise SystemExit("no ONNX export yet: run `python -m keboola_vectorizer.embedding.onnx_backend` first")
    texts = [d.text for d in iter_documents(Snapshot(args.snapshot))]
    sample = random.Random(0).sample(texts, min(args.sample, len(texts)))
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing" warning
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "model.onnx").symlink_to(exported / "model.onnx")
        for name, per_channel in (("per-tensor", False), ("per-channel", True)):
            quantize_dynamic(str(exported / "model.onnx"), str(folder / f"{name}.onnx"),
                             weight_type=QuantType.QInt8, per_channel=per_channel)
        variants = {"fp32": "model.onnx", "int8 per-tensor": "per-tensor.onnx", "int8 per-channel": "per-channel.onnx"}
        encoders = {name: OnnxEncoder(model_path, folder, threads=2, model_file=file)
                    for name, file in variants.items()}
        for encoder in encoders.values():
            encoder.encode(sample[:32])  # warm-up
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, encoder in encoders.items():  # interleaved, so load drifts hit every variant alike
                started = time.perf_counter()
                vectors[name] = encoder.encode(sample)
                seconds[name].append(time.perf_counter() - started)
        reference, reference_queries = vectors["fp32"], encoders["fp32"].encode(list(QUERIES))
        base = statistics.median(seconds["fp32"])
        print(f"{len(sample)} documents of {args.snapshot}, median of {args.repeats} passes")
        print("| weights | seconds | speed vs fp32 | cosine mean | cosine p5 | cosine min | top-10 kept |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name in variants:
            cosine = (vectors[name] * reference).sum(axis=1)
            queries = encoders[name].encode(list(QUERIES))
            kept = np.mean([len(set(np.argsort(-(reference @ reference_queries[i]))[:10])
                                & set(np.argsort(-(vectors[name] @ queries[i]))[:10])) / 10
                            for i in range(len(QUERIES))])
            median = statistics.median(seconds[name])
            print(f"| {name} | {median:.2f} | {base / median:.2f}x | {cosine.mean():.4f} | "
                  f"{np.percentile(cosine, 5):.4f} | {cosine.min():.4f} | {kept:.2f} |")


if __name__ == "__main__":
    main()

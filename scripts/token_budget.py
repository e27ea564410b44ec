"""Word pieces per document by kind, against the model's window, and whether cutting the text at
`CHARS_PER_PIECE_CAP` characters a piece before tokenizing changes what the model reads.

    python scripts/token_budget.py [SNAPSHOT_DIR]     (default: the generated demo organisation)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from tokenizers import Tokenizer

from keboola_vectorizer.embedding.local_model import bundled_model_path
from keboola_vectorizer.embedding.onnx_backend import CHARS_PER_PIECE_CAP, model_shape
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents


def main() -> None:
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
    else:
        from keboola_vectorizer.demo_org.cache import demo_snapshot_dir

        root = demo_snapshot_dir()
    model = bundled_model_path()
    window = model_shape(model)[0]
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_padding()
    documents = list(iter_documents(Snapshot(root)))
    texts = [d.text for d in documents]
    tokenizer.no_truncation()
    full = tokenizer.encode_batch(texts)
    by_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for document, encoding in zip(documents, full, strict=True):
        by_kind[str(document.payload.get("kind"))].append((len(document.text), len(encoding.ids)))
    print(f"{len(documents)} documents, window {window} word pieces")
    print(f"{'kind':<18} {'n':>6} {'chars':>7} {'max':>6} {'pieces':>7} {'p95':>5} {'>window':>8} {'c/piece':>8} "
          f"{'unread':>7}")
    for kind, rows in sorted(by_kind.items()):
        pieces = sorted(p for _, p in rows)
        unread = sum(max(0, p - window) for p in pieces) / max(1, sum(pieces))
        print(f"{kind:<18} {len(rows):>6} {statistics.mean(c for c, _ in rows):>7.0f} {max(c for c, _ in rows):>6} "
              f"{statistics.mean(pieces):>7.0f} {pieces[int(0.95 * (len(pieces) - 1))]:>5} "
              f"{sum(p > window for p in pieces) / len(pieces):>8.0%} "
              f"{sum(c for c, _ in rows) / max(1, sum(pieces)):>8.2f} {unread:>7.0%}")
    tokenizer.enable_truncation(window)
    cap = window * CHARS_PER_PIECE_CAP
    start = time.perf_counter()
    whole = tokenizer.encode_batch(texts)
    seconds_whole = time.perf_counter() - start
    start = time.perf_counter()
    cut = tokenizer.encode_batch([t[:cap] for t in texts])
    seconds_cut = time.perf_counter() - start
    differ = sum(a.ids != b.ids for a, b in zip(whole, cut, strict=True))
    print(f"cut at {cap} chars: {sum(len(t) > cap for t in texts)} texts cut, {differ} read differently; "
          f"tokenizing {seconds_whole:.2f}s whole, {seconds_cut:.2f}s cut")


if __name__ == "__main__":
    main()

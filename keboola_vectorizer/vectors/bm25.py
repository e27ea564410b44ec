"""BM25 sparse vectors with Qdrant's own encoder (`qdrant_edge.Bm25`): indexing encodes documents, search
encodes queries, and both backends store and query the same vectors.

The document side carries term frequencies normalised by length; the IDF part is applied by Qdrant
at query time through the sparse vector's `modifier=idf`, so adding documents never requires
re-encoding the others.
"""

from __future__ import annotations

from functools import lru_cache

from qdrant_edge import Bm25, Bm25Config

from keboola_vectorizer.vectors.types import SparseVector

# Metadata documents are short (a name, a description, a column list): an average length near
# theirs keeps BM25's length normalisation from punishing the richer ones.
AVERAGE_DOCUMENT_TOKENS = 60.0


@lru_cache(maxsize=1)
def _encoder() -> Bm25:
    return Bm25(Bm25Config(avg_len=AVERAGE_DOCUMENT_TOKENS, language="english"))


def _convert(vector: object) -> SparseVector:
    return SparseVector(list(vector.indices), [float(v) for v in vector.values])  # type: ignore[attr-defined]


def encode_document(text: str) -> SparseVector:
    return _convert(_encoder().embed_document(text))


def encode_query(text: str) -> SparseVector:
    return _convert(_encoder().embed_query(text))

"""Moved to `keboola_vectorizer.vectors.bm25` (BM25 is not an embedding provider, and its vectors
are the store's too); this alias keeps older imports working while the branches that use it land."""

from keboola_vectorizer.vectors.bm25 import AVERAGE_DOCUMENT_TOKENS, encode_document, encode_query

__all__ = ["AVERAGE_DOCUMENT_TOKENS", "encode_document", "encode_query"]

"""Vector types and the BM25 encoder, shared by embedding, indexing, the store and search."""

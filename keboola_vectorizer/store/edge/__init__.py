"""The Qdrant Edge backend (embedded): store.py translates the store core onto an EdgeShard."""

from keboola_vectorizer.store.edge.page_cache import keep_read_shards_until_exit
from keboola_vectorizer.store.edge.shard_config import edge_config
from keboola_vectorizer.store.edge.store import EDGE_CAPABILITIES, EdgeStore

__all__ = ["EDGE_CAPABILITIES", "EdgeStore", "edge_config", "keep_read_shards_until_exit"]

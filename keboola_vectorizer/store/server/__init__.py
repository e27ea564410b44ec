"""The server backend (a Qdrant server or cluster through qdrant-client): store.py translates the
store core onto qdrant-client; one module per concern beside it."""

from keboola_vectorizer.store.server.calls import _is_transient, redact_url
from keboola_vectorizer.store.server.cluster import ClusterHealth, ShardReplica
from keboola_vectorizer.store.server.metadata import META_KEY
from keboola_vectorizer.store.server.options import ServerOptions
from keboola_vectorizer.store.server.store import LOCAL_MODE_CAPABILITIES, SERVER_CAPABILITIES, ServerStore
from keboola_vectorizer.store.types import hashes_digest

__all__ = ["LOCAL_MODE_CAPABILITIES", "META_KEY", "SERVER_CAPABILITIES", "ClusterHealth", "ServerOptions",
           "ServerStore", "ShardReplica", "_is_transient", "hashes_digest", "redact_url"]

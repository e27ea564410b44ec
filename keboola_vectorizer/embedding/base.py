"""The embedding layer's public names in one import: the protocol, settings and base class
(provider.py) and the provider registry (registry.py)."""

from keboola_vectorizer.embedding.provider import (
    BaseEmbedder,
    EmbedCall,
    Embedder,
    EmbeddingSettings,
    EmbeddingUsage,
    normalise,
)
from keboola_vectorizer.embedding.registry import available_providers, create_embedder, register_provider

__all__ = ["BaseEmbedder", "EmbedCall", "Embedder", "EmbeddingSettings", "EmbeddingUsage", "available_providers",
           "create_embedder", "normalise", "register_provider"]

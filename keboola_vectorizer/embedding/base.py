"""The embedding provider protocol and the registry that finds providers by name.

A provider is one class in one module of this package, decorated with `@register_provider("name")`.
The registry discovers modules by listing the package, so adding a provider touches no other module.
Provider modules import their heavy dependencies (torch, openai) lazily, inside methods, so that
discovering them stays cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from keboola_vectorizer.errors import ConfigError


@dataclass
class EmbeddingSettings:
    """What a provider may need; each provider reads the fields it understands."""

    provider: str = "local"
    model: str | None = None
    dimensions: int | None = None
    batch_size: int | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    max_concurrency: int = 4
    timeout_s: float = 60.0
    deadline_s: float = 600.0


@dataclass
class EmbeddingUsage:
    """What embedding cost so far: requests made, inputs sent, tokens counted."""

    requests: int = 0
    inputs: int = 0
    tokens: int = 0
    truncated_inputs: int = 0
    retries: int = 0


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors of one fixed vector space.

    `id` names the vector space (provider, model and dimension): two embedders with the same id
    produce comparable vectors, and the id is recorded with the collection so that vectors from
    different spaces are never mixed.
    """

    name: ClassVar[str]

    @property
    def id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def usage(self) -> EmbeddingUsage: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dimension), float32, L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One vector, shape (dimension,), float32, L2-normalised."""
        ...


ProviderFactory = Callable[[EmbeddingSettings], Embedder]
_REGISTRY: dict[str, ProviderFactory] = {}


def register_provider(name: str) -> Callable[[type], type]:
    """Class decorator: the class must offer `from_settings(settings) -> instance`."""

    def decorate(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls.from_settings  # type: ignore[attr-defined]
        return cls

    return decorate


def _discover() -> None:
    package = importlib.import_module("keboola_vectorizer.embedding")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"base"}:
            importlib.import_module(f"keboola_vectorizer.embedding.{module.name}")


def available_providers() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def create_embedder(settings: EmbeddingSettings) -> Embedder:
    """The provider registered as `settings.provider`, configured from `settings`."""
    if settings.provider not in _REGISTRY:
        _discover()
    factory = _REGISTRY.get(settings.provider)
    if factory is None:
        raise ConfigError(
            f"unknown embedding provider {settings.provider!r}",
            f"use one of: {', '.join(available_providers())}",
        )
    return factory(settings)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows so that dot product equals cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms

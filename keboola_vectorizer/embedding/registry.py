"""Which embedding providers exist: an explicit list of the built-in ones, plus third-party
providers that declare a `keboola_vectorizer.embedding_providers` entry point (llm's
`DEFAULT_PLUGINS` + setuptools entry points). Nothing scans the package folder, and a provider's
module is imported only when it is asked for."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from importlib.metadata import entry_points

from keboola_vectorizer.embedding.provider import Embedder, EmbeddingSettings
from keboola_vectorizer.errors import ConfigError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "keboola_vectorizer.embedding_providers"
# name -> "module:Class"; the class offers `from_settings(settings) -> instance`.
BUILT_IN_PROVIDERS = {
    "local": "keboola_vectorizer.embedding.local:SentenceTransformerEmbedder",
    "openai": "keboola_vectorizer.embedding.openai:OpenAIEmbedder",
}

ProviderFactory = Callable[[EmbeddingSettings], Embedder]
# Providers registered in this process (tests, embedding applications), by name.
_REGISTERED: dict[str, ProviderFactory] = {}


def register_provider(name: str) -> Callable[[type], type]:
    """Class decorator registering a provider in this process; the class must offer
    `from_settings(settings) -> instance`."""

    def decorate(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        _REGISTERED[name] = cls.from_settings  # type: ignore[attr-defined]
        return cls

    return decorate


def _entry_point_targets() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_providers() -> list[str]:
    return sorted({*BUILT_IN_PROVIDERS, *_entry_point_targets(), *_REGISTERED})


def _load(target: str) -> ProviderFactory:
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_settings  # type: ignore[no-any-return]


def create_embedder(settings: EmbeddingSettings) -> Embedder:
    """The provider named `settings.provider`, configured from `settings`."""
    factory = _REGISTERED.get(settings.provider)
    if factory is None:
        target = BUILT_IN_PROVIDERS.get(settings.provider) or _entry_point_targets().get(settings.provider)
        if target is None:
            raise ConfigError(
                f"unknown embedding provider {settings.provider!r}",
                f"use one of: {', '.join(available_providers())}",
            )
        factory = _load(target)
    return factory(settings)

"""Settings from the environment and from mounted secret files (pydantic-settings).

Every setting has the environment variable users already know (design.md). Secrets may also come
from files in a mounted secrets directory (a Kubernetes Secret volume, `KV_SECRETS_DIR`): a file named
like the variable (`KBC_STORAGE_TOKEN`) or in k8s style (`kbc-storage-token`) wins over the variable,
because a mounted Secret is the operator's deliberate choice and rotates without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from keboola_vectorizer.errors import ConfigError

DEFAULT_SECRETS_DIR = "/var/run/secrets/keboola-vectorizer"
DEFAULT_COLLECTION = "keboola-metadata"
SECRET_FIELDS = ("kbc_storage_token", "qdrant_api_key", "openai_api_key", "kv_api_key")


def default_qdrant_path() -> Path:
    return Path(user_data_dir("keboola-vectorizer", appauthor=False)) / "qdrant"


def secrets_dir() -> Path:
    return Path(os.environ.get("KV_SECRETS_DIR", DEFAULT_SECRETS_DIR))


def read_secret_file(name: str, directory: Path | None = None) -> str | None:
    """The content of `<dir>/<NAME>` or `<dir>/<name-in-kebab-case>`, stripped; None if absent."""
    directory = directory or secrets_dir()
    for candidate in (name, name.upper(), name.lower().replace("_", "-")):
        path = directory / candidate
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    return None


class _SecretFilesSource(PydanticBaseSettingsSource):
    """Reads the secret fields from files in KV_SECRETS_DIR, named like their variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        directory = secrets_dir()
        if not directory.is_dir():
            return {}
        values: dict[str, Any] = {}
        for field_name in SECRET_FIELDS:
            value = read_secret_file(field_name.upper(), directory)
            if value:
                values[field_name] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore",
                                      populate_by_name=True)

    kbc_storage_api_url: str | None = None
    kbc_storage_token: SecretStr | None = None
    kbc_projects_config: Path | None = None
    # Seconds one Storage API request may take, and all retries of one call together (waits included).
    kbc_timeout: float = Field(default=120.0, gt=0)
    kbc_retry_deadline: float = Field(default=300.0, gt=0)

    qdrant_path: Path = Field(default_factory=default_qdrant_path)
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = DEFAULT_COLLECTION
    qdrant_replication_factor: int = 2
    qdrant_shard_number: int = 6
    qdrant_write_consistency_factor: int = 1
    qdrant_read_consistency: str = "majority"
    qdrant_timeout: float = 30.0
    qdrant_retry_deadline: float = Field(default=30.0, gt=0)  # all retries of one request together
    qdrant_upsert_batch_size: int = 256
    qdrant_upsert_parallel: int = 4
    qdrant_snapshots_dir: str = "/qdrant/snapshots"
    qdrant_peer_urls: str = ""

    embedding_provider: str = Field(default="local",
                                    validation_alias=AliasChoices("embedding_provider", "kv_provider"))
    embedding_model: str | None = None
    embedding_dimensions: int | None = None
    embedding_batch_size: int | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    # Seconds one embeddings request may take, and all retries of one embed call together.
    openai_timeout: float = Field(default=60.0, gt=0)
    openai_retry_deadline: float = Field(default=600.0, gt=0)

    # The key HTTP clients of `mcp --transport http` and `serve` must send as a Bearer token.
    kv_api_key: SecretStr | None = None
    # The size budget of one MCP tool response, in characters (~4 a token).
    kv_mcp_max_chars: int = Field(default=12_000, ge=1_000, le=200_000)
    # For the CLI: a running search service (`serve`) that `search` asks instead of loading the model.
    kv_service_url: str | None = None
    kv_service_timeout: float = Field(default=30.0, gt=0)

    log_format: Literal["text", "json"] | None = None
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _SecretFilesSource(settings_cls), env_settings)

    def embedding_settings(self, provider: str | None = None, model: str | None = None,
                           dimensions: int | None = None) -> Any:
        """EmbeddingSettings from these settings; explicit arguments (CLI options) win."""
        from keboola_vectorizer.embedding.base import EmbeddingSettings

        return EmbeddingSettings(
            provider=provider or self.embedding_provider,
            model=model or self.embedding_model,
            dimensions=dimensions or self.embedding_dimensions,
            batch_size=self.embedding_batch_size,
            api_key=self.openai_api_key.get_secret_value() if self.openai_api_key else None,
            base_url=self.openai_base_url,
            timeout_s=self.openai_timeout,
            deadline_s=self.openai_retry_deadline,
        )

    def secret_values(self) -> list[str]:
        """Every secret in force, for scrubbing output."""
        values = [s.get_secret_value() for s in (self.kbc_storage_token, self.qdrant_api_key,
                                                  self.openai_api_key, self.kv_api_key) if s is not None]
        return [v for v in values if v]


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise ConfigError(
            f"invalid setting {where.upper()}: {first.get('msg')}",
            "fix the environment variable or the mounted secret file",
        ) from None

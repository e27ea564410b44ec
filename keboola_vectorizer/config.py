"""Settings from the environment and from mounted secret files (pydantic-settings): the one module
that reads the environment. Other modules take typed values from `Settings` (or, for the few read
before settings exist, from the functions at the end of this module).

Every setting has the environment variable users already know (README's settings table). Secrets may also come
from files in a mounted secrets directory (a Kubernetes Secret volume, `KV_SECRETS_DIR`): a file named
like the variable (`KBC_STORAGE_TOKEN`) or in k8s style (`kbc-storage-token`) wins over the variable,
because a mounted Secret is the operator's deliberate choice and rotates without a restart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.light_settings import DEFAULT_SERVICE_TIMEOUT_S, SECRET_FIELDS, read_secret_file, secrets_dir
from keboola_vectorizer.store.types import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from keboola_vectorizer.embedding.provider import EmbeddingSettings

def default_qdrant_path() -> Path:
    return Path(user_data_dir("keboola-vectorizer", appauthor=False)) / "qdrant"


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
    # The local model's runtime: auto (ONNX Runtime when possible) | onnx | torch; where its ONNX
    # export is cached; ONNX Runtime's threads (the Helm chart sets OMP_NUM_THREADS from limits.cpu).
    embedding_backend: str = Field(default="auto", validation_alias=AliasChoices(
        "keboola_vectorizer_embedding_backend", "embedding_backend"))
    onnx_cache: str | None = Field(default=None, validation_alias=AliasChoices(
        "keboola_vectorizer_onnx_cache", "onnx_cache"))
    onnx_threads: str | None = Field(default=None, validation_alias=AliasChoices(
        "ort_num_threads", "omp_num_threads", "onnx_threads"))
    # The ONNX model's weights: fp32 (the export) | int8 (dynamically quantized from it). Vectors
    # differ between the two, so the collection records which built it.
    kv_onnx_weights: str = "fp32"

    # The key HTTP clients of `mcp --transport http` and `serve` must send as a Bearer token.
    kv_api_key: SecretStr | None = None
    # The size budget of one MCP tool response, in characters (~4 a token).
    kv_mcp_max_chars: int = Field(default=12_000, ge=1_000, le=200_000)
    # For the CLI: a running search service (`serve`) that `search` asks instead of loading the model.
    kv_service_url: str | None = None
    kv_service_timeout: float = Field(default=DEFAULT_SERVICE_TIMEOUT_S, gt=0)

    log_format: Literal["text", "json"] | None = None
    log_level: str = "INFO"

    # Checked where they are used, so that each error names its variable and its fix.
    kv_lock_timeout: str = ""  # seconds a second index run waits for the lock (empty: 0)
    kv_shard_index: str | None = None  # this pod's shard (Indexed Job); JOB_COMPLETION_INDEX else
    job_completion_index: str | None = None
    kv_shard_count: str | None = None

    def shard_position(self) -> tuple[int | None, int | None]:
        """(shard index, shard count) from KV_SHARD_INDEX / JOB_COMPLETION_INDEX and KV_SHARD_COUNT."""
        index = _whole_number(("KV_SHARD_INDEX", self.kv_shard_index), ("JOB_COMPLETION_INDEX",
                                                                          self.job_completion_index))
        return index, _whole_number(("KV_SHARD_COUNT", self.kv_shard_count))

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
                           dimensions: int | None = None) -> EmbeddingSettings:
        """EmbeddingSettings from these settings; explicit arguments (CLI options) win."""
        from keboola_vectorizer.embedding.provider import EmbeddingSettings

        threads = (self.onnx_threads or "").strip()

        return EmbeddingSettings(
            provider=provider or self.embedding_provider,
            model=model or self.embedding_model,
            dimensions=dimensions or self.embedding_dimensions,
            batch_size=self.embedding_batch_size,
            api_key=self.openai_api_key.get_secret_value() if self.openai_api_key else None,
            base_url=self.openai_base_url,
            timeout_s=self.openai_timeout,
            deadline_s=self.openai_retry_deadline,
            local_backend=self.embedding_backend,
            onnx_cache=self.onnx_cache or None,
            onnx_weights=self.kv_onnx_weights,
            # A thread count that is not a positive number leaves ONNX Runtime its default.
            onnx_threads=int(threads) if threads.isdigit() and int(threads) > 0 else None,
        )

    def secret_values(self) -> list[str]:
        """Every secret in force, for scrubbing output."""
        values = [s.get_secret_value() for s in (self.kbc_storage_token, self.qdrant_api_key,
                                                  self.openai_api_key, self.kv_api_key) if s is not None]
        return [v for v in values if v]


def _whole_number(*named: tuple[str, str | None]) -> int | None:
    """The first of the named values that is set, as an int; ConfigError naming it if it is not one."""
    for name, value in named:
        if value not in (None, ""):
            try:
                return int(str(value))
            except ValueError:
                raise ConfigError(f"{name}={value!r} is not a whole number", f"fix {name}") from None
    return None


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


# -- read before (or without) Settings ---------------------------------------------------------

class DatadogSettings(BaseSettings):
    """The DogStatsD switches metrics.py reads on first use (the datadog client reads the address,
    DD_ENV, DD_SERVICE and DD_VERSION itself)."""

    model_config = SettingsConfigDict(env_prefix="dd_", case_sensitive=False, extra="ignore")

    dogstatsd_disable: str = ""
    agent_host: str = ""
    dogstatsd_url: str = ""
    service: str = ""
    version: str = ""

    @property
    def disabled(self) -> bool:
        return self.dogstatsd_disable.strip().lower() in ("1", "true", "yes", "on")


def run_id() -> str | None:
    """KV_RUN_ID: the run's id in logs and events (e.g. the Job's name), read once at import."""
    return os.environ.get("KV_RUN_ID") or None


def debug_tracebacks() -> bool:
    """KV_DEBUG: print the traceback of an unexpected error (read at the moment one happens,
    when Settings may be what failed)."""
    return bool(os.environ.get("KV_DEBUG"))


def environment() -> Mapping[str, str]:
    """The process environment, for variables named only at run time (a projects config's
    `token_env`)."""
    return os.environ


@contextmanager
def scoped_environment(env: Mapping[str, str] | None) -> Iterator[None]:
    """Run with exactly `env` as the process environment, then restore it (`cli.run(argv, env)`:
    a command tested in process sees the environment it was given). None leaves it alone."""
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)

"""Secrets from the environment or from a mounted secrets directory (a k8s Secret volume); the file wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keboola_vectorizer.config import load_settings
from keboola_vectorizer.light_settings import DEFAULT_SECRETS_DIR, read_secret_file, secrets_dir

VARIABLES = {"KBC_STORAGE_TOKEN": "kbc_storage_token", "QDRANT_API_KEY": "qdrant_api_key",
             "OPENAI_API_KEY": "openai_api_key"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [*VARIABLES, "KV_SECRETS_DIR"]:
        monkeypatch.delenv(name, raising=False)
    yield


def secret(settings: object, field: str) -> str | None:
    value = getattr(settings, field)
    return value.get_secret_value() if value is not None else None


@pytest.mark.parametrize("variable", sorted(VARIABLES))
def test_env_only(variable: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))  # exists, but holds nothing
    monkeypatch.setenv(variable, "from-env-value")
    settings = load_settings()
    assert secret(settings, VARIABLES[variable]) == "from-env-value"
    assert "from-env-value" in settings.secret_values()


@pytest.mark.parametrize("variable", sorted(VARIABLES))
def test_file_only_named_like_the_variable(variable: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / variable).write_text("from-file-value\n")  # k8s Secret files often end in a newline
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    assert secret(load_settings(), VARIABLES[variable]) == "from-file-value"


@pytest.mark.parametrize("variable", sorted(VARIABLES))
def test_file_wins_over_env(variable: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / variable).write_text("from-file-value")
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv(variable, "from-env-value")
    settings = load_settings()
    assert secret(settings, VARIABLES[variable]) == "from-file-value"
    assert "from-env-value" not in settings.secret_values()


def test_kebab_case_file_names_as_k8s_secret_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "kbc-storage-token").write_text("kbc-from-kebab")
    (tmp_path / "qdrant-api-key").write_text("qdrant-from-kebab")
    (tmp_path / "openai-api-key").write_text("openai-from-kebab")
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", "openai-from-env")
    settings = load_settings()
    assert secret(settings, "kbc_storage_token") == "kbc-from-kebab"
    assert secret(settings, "qdrant_api_key") == "qdrant-from-kebab"
    assert secret(settings, "openai_api_key") == "openai-from-kebab"
    assert sorted(settings.secret_values()) == ["kbc-from-kebab", "openai-from-kebab", "qdrant-from-kebab"]


def test_k8s_volume_layout_with_symlinks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A mounted Secret is `..data/` plus symlinks per key; a rotation swaps `..data` atomically."""
    data = tmp_path / "..2024_01_01_00_00_00.000000000"
    data.mkdir()
    (data / "KBC_STORAGE_TOKEN").write_text("token-v1")
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "KBC_STORAGE_TOKEN").symlink_to("..data/KBC_STORAGE_TOKEN")
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    assert secret(load_settings(), "kbc_storage_token") == "token-v1"
    rotated = tmp_path / "..2024_02_01_00_00_00.000000000"
    rotated.mkdir()
    (rotated / "KBC_STORAGE_TOKEN").write_text("token-v2")
    (tmp_path / "..data").unlink()
    (tmp_path / "..data").symlink_to(rotated.name)
    assert secret(load_settings(), "kbc_storage_token") == "token-v2"


def test_empty_file_does_not_shadow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "QDRANT_API_KEY").write_text("\n")
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("QDRANT_API_KEY", "from-env-value")
    assert secret(load_settings(), "qdrant_api_key") == "from-env-value"


def test_secrets_dir_unset_uses_the_default_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert secrets_dir() == Path(DEFAULT_SECRETS_DIR)
    monkeypatch.setenv("KBC_STORAGE_TOKEN", "from-env-value")
    if not Path(DEFAULT_SECRETS_DIR).is_dir():
        assert secret(load_settings(), "kbc_storage_token") == "from-env-value"


def test_secrets_dir_that_does_not_exist_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path / "not-mounted"))
    monkeypatch.setenv("OPENAI_API_KEY", "from-env-value")
    settings = load_settings()
    assert secret(settings, "openai_api_key") == "from-env-value"
    assert settings.kbc_storage_token is None and settings.qdrant_api_key is None
    assert read_secret_file("OPENAI_API_KEY", tmp_path / "not-mounted") is None


def test_nothing_configured_means_no_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.secret_values() == []
    assert (settings.kbc_storage_token, settings.qdrant_api_key, settings.openai_api_key) == (None, None, None)


def test_secret_values_never_show_in_repr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "KBC_STORAGE_TOKEN").write_text("super-secret-token")
    monkeypatch.setenv("KV_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert "super-secret-token" not in repr(settings) and "super-secret-token" not in str(settings)

"""Secrets in files of a mounted secrets directory (a Kubernetes Secret volume, `KV_SECRETS_DIR`),
read without the settings machinery: by `config.Settings` (where a file wins over its variable) and by
the thin `search` through a running service (cli/thin_search.py), which starts without pydantic."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_SECRETS_DIR = "/var/run/secrets/keboola-vectorizer"
SECRET_FIELDS = ("kbc_storage_token", "qdrant_api_key", "openai_api_key", "kv_api_key")


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


def secret_in_force(field: str, environ: Mapping[str, str]) -> str | None:
    """A secret setting as `Settings` resolves it: its file in the secrets directory, else its variable
    in any case; None when neither is set (empty counts as unset)."""
    directory = secrets_dir()
    from_file = read_secret_file(field.upper(), directory) if directory.is_dir() else None
    if from_file:
        return from_file
    return next((value for key, value in environ.items() if key.lower() == field and value), None)

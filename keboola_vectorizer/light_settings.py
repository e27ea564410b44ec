"""The settings read without pydantic-settings, for a process that must start in a tenth of a second:
the secrets directory and its files (a Kubernetes Secret volume, `KV_SECRETS_DIR`; `config.Settings`
reads them through here too, and a file wins over its variable) and any other setting by its variable,
in any case, as `Settings` reads it. Only the thin `search` through a running service
(cli/thin_search.py) reads settings this way; everything else takes them typed from `config.Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_SECRETS_DIR = "/var/run/secrets/keboola-vectorizer"
SECRET_FIELDS = ("kbc_storage_token", "qdrant_api_key", "openai_api_key", "kv_api_key")
DEFAULT_SERVICE_TIMEOUT_S = 30.0  # KV_SERVICE_TIMEOUT: seconds `search` waits for a running service


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


def setting(field: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A setting's variable in any case (`kv_service_url` or `KV_SERVICE_URL`); empty counts as unset."""
    found = os.environ if environ is None else environ
    return next((value for key, value in found.items() if key.lower() == field and value), None)


def secret_in_force(field: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret setting as `Settings` resolves it: its file in the secrets directory, else its variable."""
    directory = secrets_dir()
    from_file = read_secret_file(field.upper(), directory) if directory.is_dir() else None
    return from_file or setting(field, environ)

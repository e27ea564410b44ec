"""Which Keboola projects to read, and with which token: a projects config file or the two env vars.

A projects config lists several projects, possibly on different stacks:

```yaml
projects:
  - url: https://connection.keboola.com
    token_secret: kbc-token-marketing   # file in the secrets dir, else env var KBC_TOKEN_MARKETING
    name: marketing                     # optional label
  - url: https://connection.eu-central-1.keboola.com
    token_env: KBC_TOKEN_SALES          # an explicit env var name
```

Tokens never live in the file itself: a config file gets copied, committed and pasted into tickets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr

from keboola_vectorizer.config import Settings, environment, load_settings, secrets_dir
from keboola_vectorizer.errors import ConfigError, KeboolaAuthError

ENV_URL = "KBC_STORAGE_API_URL"
ENV_TOKEN = "KBC_STORAGE_TOKEN"

_ENTRY_KEYS = {"url", "token_secret", "token_env", "name"}
# Plain http only where nothing crosses a network: tests, port-forwards, local proxies.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_CONFIG_HINT = "see the projects config format in README.md"


@dataclass(frozen=True)
class ProjectSource:
    """One project to extract: its stack URL, its token, and an optional label for messages."""

    url: str
    token: SecretStr
    label: str | None = None


def validate_stack_url(url: object, where: str) -> str:
    """The stack URL without a trailing slash, or ConfigError saying what is wrong with it.

    `where` names the setting for the message, e.g. `KBC_STORAGE_API_URL` or `projects.yaml projects[2]`.
    """
    example = "e.g. https://connection.keboola.com"
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where}: url is missing or not a string", f"give the stack URL, {example}")
    url = url.strip()
    parts = urlsplit(url)
    try:
        # .port raises on a non-numeric or out-of-range port.
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{where}: url {url!r} has an invalid port", f"use the stack URL, {example}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{where}: url {url!r} is not an https URL", f"use the stack URL, {example}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ConfigError(
            f"{where}: url {url!r} uses plain http, which would send the token unencrypted",
            f"use https, {example}",
        )
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        # kbcstorage appends /v2/storage/... itself; a pasted API path would double it and 404.
        raise ConfigError(
            f"{where}: url {url!r} must be the bare stack URL without path, query or credentials",
            f"use {parts.scheme}://{parts.netloc}",
        )
    return f"{parts.scheme}://{parts.netloc}"


def sources_from_env(url: str | None = None, token: str | SecretStr | None = None) -> list[ProjectSource]:
    """The single project named by KBC_STORAGE_API_URL and KBC_STORAGE_TOKEN (or the given values)."""
    if url is None or token is None:
        settings = load_settings()
        url = url if url is not None else settings.kbc_storage_api_url
        token = token if token is not None else settings.kbc_storage_token
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    if not url:
        raise ConfigError(f"{ENV_URL} is not set", "set it to your stack URL, e.g. https://connection.keboola.com")
    stack = validate_stack_url(url, ENV_URL)
    if not secret or not secret.strip():
        raise KeboolaAuthError(f"{ENV_TOKEN} is not set", "set it to a Storage API token of the project")
    return [ProjectSource(url=stack, token=SecretStr(secret.strip()), label=None)]


def load_projects_config(
    path: Path,
    secrets_dir: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[ProjectSource]:
    """Parse a projects config (YAML, or JSON by `.json` suffix) into sources with their tokens resolved.

    A `token_secret` is looked up first as the file `<secrets_dir>/<token_secret>` (a mounted Kubernetes
    secret), then as the env var named by upper-casing it and turning '-' into '_'. A `token_env` names
    the env var directly (a secret file of that name, or its kebab-case, still wins). `environ` defaults
    to the process environment. Every problem is a ConfigError naming the file and the entry.
    """
    env = environment() if environ is None else environ
    data = _read(path)
    if not isinstance(data, dict):
        raise ConfigError(f"projects config {path}: expected a mapping with a 'projects' list", _CONFIG_HINT)
    unknown = sorted(set(data) - {"projects"})
    if unknown:
        raise ConfigError(f"projects config {path}: unknown top-level key(s) {', '.join(unknown)}", _CONFIG_HINT)
    entries = data.get("projects")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"projects config {path}: 'projects' must be a non-empty list", _CONFIG_HINT)

    sources: list[ProjectSource] = []
    for index, entry in enumerate(entries):
        where = f"projects config {path} projects[{index}]"
        sources.append(_source(entry, where, secrets_dir, env))

    seen: dict[tuple[str, str], int] = {}
    for index, source in enumerate(sources):
        key = (source.url, source.token.get_secret_value())
        if key in seen:
            raise ConfigError(
                f"projects config {path}: projects[{index}] repeats projects[{seen[key]}] (same url and token)",
                "list every project once",
            )
        seen[key] = index
    return sources


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"projects config {path} does not exist", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"projects config {path} cannot be read: {exc}", "check the file") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"projects config {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            _CONFIG_HINT,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"projects config {path} is not valid YAML{at}: {problem}", _CONFIG_HINT) from None


def _source(entry: object, where: str, secrets_dir: Path | None, env: Mapping[str, str]) -> ProjectSource:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with url and token_secret or token_env", _CONFIG_HINT)
    if "token" in entry:
        raise ConfigError(
            f"{where}: inline tokens are not allowed",
            "put the token in a secret file or env var and name it with token_secret or token_env",
        )
    unknown = sorted(str(k) for k in set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}",
            f"allowed keys: {', '.join(sorted(_ENTRY_KEYS))}",
        )
    url = validate_stack_url(entry.get("url"), where)
    label = entry.get("name")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise ConfigError(f"{where}: name must be a non-empty string", _CONFIG_HINT)
    token = _token(entry, where, secrets_dir, env)
    return ProjectSource(url=url, token=SecretStr(token), label=label.strip() if label else None)


def _token(entry: dict[str, Any], where: str, secrets_dir: Path | None, env: Mapping[str, str]) -> str:
    secret_name = entry.get("token_secret")
    env_name = entry.get("token_env")
    if (secret_name is None) == (env_name is None):
        raise ConfigError(f"{where}: give exactly one of token_secret or token_env", _CONFIG_HINT)
    key = "token_env" if env_name is not None else "token_secret"
    name = env_name if env_name is not None else secret_name
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string", _CONFIG_HINT)
    name = name.strip()
    if "/" in name or "\\" in name or name in (".", ".."):
        # The name is also a file name inside the secrets dir, never a path out of it.
        raise ConfigError(f"{where}: {key} {name!r} must be a plain name, not a path", _CONFIG_HINT)
    # token_env names the variable exactly; a token_secret maps to one the way k8s names map to env vars.
    env_var = name if env_name is not None else name.upper().replace("-", "_")

    if secrets_dir is not None:
        # A mounted secret wins over the environment (as for every other secret, see README.md), under the
        # name as written, as an env var name, or in Kubernetes kebab-case.
        for candidate in dict.fromkeys([name, env_var, env_var.lower().replace("_", "-")]):
            secret_file = secrets_dir / candidate
            if not secret_file.is_file():
                continue
            try:
                value = secret_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"{where}: secret file {secret_file} cannot be read: {exc}", "check the file"
                ) from None
            if not value:
                raise ConfigError(f"{where}: secret file {secret_file} is empty", "put the token in it")
            return value
    value = env.get(env_var, "").strip()
    if value:
        return value
    looked = f"no file {secrets_dir / name} and " if secrets_dir is not None else ""
    raise ConfigError(
        f"{where}: {key} {name!r} not found ({looked}no env var {env_var} or it is empty)",
        f"mount the secret file or set {env_var}",
    )


def project_sources(settings: Settings, projects_config: Path | None = None) -> list[ProjectSource]:
    """The projects to extract: a projects config (option or KBC_PROJECTS_CONFIG), else the one
    project of KBC_STORAGE_API_URL and KBC_STORAGE_TOKEN."""
    config_path = projects_config or settings.kbc_projects_config
    if config_path:
        return load_projects_config(Path(config_path), secrets_dir())
    token = settings.kbc_storage_token.get_secret_value() if settings.kbc_storage_token else None
    if not settings.kbc_storage_api_url or not token:
        missing = "KBC_STORAGE_API_URL" if not settings.kbc_storage_api_url else "KBC_STORAGE_TOKEN"
        # README's exit codes: a missing token is 4 (like a rejected one), a missing stack URL is 3.
        error_type = ConfigError if missing == "KBC_STORAGE_API_URL" else KeboolaAuthError
        raise error_type(
            f"{missing} is not set, so there is no Keboola project to extract",
            "set KBC_STORAGE_API_URL and KBC_STORAGE_TOKEN, pass --projects-config FILE, "
            "or index a saved snapshot with --snapshot DIR (--sample for the generated demo organisation)",
        )
    return sources_from_env(settings.kbc_storage_api_url, token)


def shard(sources: list[ProjectSource], settings: Settings, shard_index: int | None,
          shard_count: int | None) -> list[ProjectSource]:
    """This pod's share of the projects in an Indexed Job (options win over KV_SHARD_* and
    JOB_COMPLETION_INDEX); every project when there is one shard."""
    env_index, env_count = settings.shard_position()
    index = shard_index if shard_index is not None else env_index
    count = shard_count if shard_count is not None else env_count
    if count is None or count <= 1:
        return sources
    if index is None or not 0 <= index < count:
        raise ConfigError(f"shard index {index} is outside 0..{count - 1}",
                          "set --shard-index (or JOB_COMPLETION_INDEX) below --shard-count")
    return sources[index::count]

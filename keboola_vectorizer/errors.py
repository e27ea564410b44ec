"""Errors that reach the user as one line: what went wrong and what to do about it.

Every error the CLI can foresee is a `VectorizerError`; the CLI prints `error: <message> — <hint>`
and exits with the error's code. The codes are documented in README.md and are stable, because the
Helm chart's podFailurePolicy and users' scripts rely on them.
"""

from __future__ import annotations


class VectorizerError(Exception):
    """A failure the user can act on. `hint` says what to do; `exit_code` is documented."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} — {self.hint}"
        return " ".join(text.split())


class ConfigError(VectorizerError):
    """Bad settings, options or config files (fails the same way on every retry)."""

    exit_code = 3


class KeboolaAuthError(VectorizerError):
    """The Storage API token is missing, invalid or expired."""

    exit_code = 4


class KeboolaApiError(VectorizerError):
    """The Storage API is unreachable or answered with an error."""

    exit_code = 5


class StoreError(VectorizerError):
    """Qdrant is unreachable, refused the request, or holds an incompatible collection."""

    exit_code = 6


class SnapshotError(VectorizerError):
    """A snapshot directory is missing, incomplete or corrupt."""

    exit_code = 7


class EmbeddingError(VectorizerError):
    """The embedding provider failed (model not loadable, API key rejected, bad dimension)."""

    exit_code = 8


class LockBusyError(VectorizerError):
    """Another index run holds the collection's lock."""

    exit_code = 9


class EmptyIndexError(VectorizerError):
    """A search or eval ran against a collection that does not exist or holds no points."""

    exit_code = 10


class ServiceError(VectorizerError):
    """The search service (KV_SERVICE_URL) is unreachable, refused the key, or failed."""

    exit_code = 11


class DiskFullError(StoreError):
    """The embedded store's disk has too little free space for the next write (checked before it)."""

    exit_code = 12


class StoreDamagedError(StoreError):
    """The embedded store's files differ from what it recorded (truncated, missing or changed)."""

    exit_code = 13

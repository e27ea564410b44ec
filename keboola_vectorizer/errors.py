"""Errors that reach the user as one line: what went wrong and what to do about it.

Every error the CLI can foresee is a `VectorizerError`; the CLI prints `error: <message> — <hint>`
and exits with the error's code. The codes are documented in README.md and are stable, because the
Helm chart's podFailurePolicy and users' scripts rely on them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code of the CLI; README's table is `exit_code_table()` (a test holds them equal)."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    KEBOOLA_AUTH = 4
    KEBOOLA_API = 5
    STORE = 6
    SNAPSHOT = 7
    EMBEDDING = 8
    LOCK_BUSY = 9
    EMPTY_INDEX = 10
    SERVICE = 11
    DISK_FULL = 12
    STORE_DAMAGED = 13
    INTERRUPTED = 130


# What each code means, as README.md says it.
EXIT_CODE_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error (rerun with `KV_DEBUG=1` for the traceback)",
    ExitCode.USAGE: "usage error (unknown option or value)",
    ExitCode.CONFIG: "configuration error (settings, options, config files) — retrying will not help",
    ExitCode.KEBOOLA_AUTH: "Keboola token missing, invalid or expired",
    ExitCode.KEBOOLA_API: "Keboola Storage API unreachable or failing",
    ExitCode.STORE: "Qdrant unreachable, refused, or holding an incompatible collection (`--rebuild`)",
    ExitCode.SNAPSHOT: "snapshot directory missing, incomplete or corrupt",
    ExitCode.EMBEDDING: "embedding provider failed (model, API key, dimensions)",
    ExitCode.LOCK_BUSY: "another index run holds the collection's lock",
    ExitCode.EMPTY_INDEX: "the index is empty or missing (run `index` first)",
    ExitCode.SERVICE: "the search service (`KV_SERVICE_URL`) is unreachable or refused the key",
    ExitCode.DISK_FULL: ("not enough disk space for the embedded store (checked before every write; free space, "
                         "then rerun: it resumes)"),
    ExitCode.STORE_DAMAGED: ("the embedded store is damaged (a file cut short, missing or changed): "
                             "`index --rebuild` or `snapshot restore NAME`"),
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); rerun the same command to resume",
}


def exit_code_table() -> str:
    """README's exit-code table, in Markdown."""
    rows = [f"| {int(code)} | {EXIT_CODE_MEANINGS[code]} |" for code in ExitCode]
    return "\n".join(["| code | meaning |", "| --- | --- |", *rows])


class VectorizerError(Exception):
    """A failure the user can act on. `hint` says what to do; `exit_code` is documented."""

    exit_code: int = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} — {self.hint}"
        return " ".join(text.split())


class ConfigError(VectorizerError):
    """Bad settings, options or config files (fails the same way on every retry)."""

    exit_code = ExitCode.CONFIG


class KeboolaAuthError(VectorizerError):
    """The Storage API token is missing, invalid or expired."""

    exit_code = ExitCode.KEBOOLA_AUTH


class KeboolaApiError(VectorizerError):
    """The Storage API is unreachable or answered with an error."""

    exit_code = ExitCode.KEBOOLA_API


class StoreError(VectorizerError):
    """Qdrant is unreachable, refused the request, or holds an incompatible collection."""

    exit_code = ExitCode.STORE


class SnapshotError(VectorizerError):
    """A snapshot directory is missing, incomplete or corrupt."""

    exit_code = ExitCode.SNAPSHOT


class EmbeddingError(VectorizerError):
    """The embedding provider failed (model not loadable, API key rejected, bad dimension)."""

    exit_code = ExitCode.EMBEDDING


class LockBusyError(VectorizerError):
    """Another index run holds the collection's lock."""

    exit_code = ExitCode.LOCK_BUSY


class EmptyIndexError(VectorizerError):
    """A search or eval ran against a collection that does not exist or holds no points."""

    exit_code = ExitCode.EMPTY_INDEX


class ServiceError(VectorizerError):
    """The search service (KV_SERVICE_URL) is unreachable, refused the key, or failed."""

    exit_code = ExitCode.SERVICE


class DiskFullError(StoreError):
    """The embedded store's disk has too little free space for the next write (checked before it)."""

    exit_code = ExitCode.DISK_FULL


class StoreDamagedError(StoreError):
    """The embedded store's files differ from what it recorded (truncated, missing or changed)."""

    exit_code = ExitCode.STORE_DAMAGED

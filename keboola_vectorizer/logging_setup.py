"""Logging: readable lines on a terminal, JSON lines in the container; secrets scrubbed from both."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from typing import Any

from keboola_vectorizer.config import run_id
from keboola_vectorizer.redact import has_secrets
from keboola_vectorizer.redact import register_secrets as register_secrets  # re-exported for logging's users
from keboola_vectorizer.redact import scrub as scrub

# One id per process (one CronJob pod = one run); KV_RUN_ID overrides it, e.g. with the Job's name.
RUN_ID = run_id() or uuid.uuid4().hex[:12]
# What the run is working on now (project_id, stage); set by the pipeline, read by every log line.
_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("kv_log_context", default=None)
# LogRecord attributes that are not `extra=` fields.
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
AUDIT_LOGGER = "keboola_vectorizer.audit"
_FORMAT = {"current": "text"}


def log_context() -> dict[str, Any]:
    """The context fields in force (project_id, stage, ...)."""
    return dict(_CONTEXT.get() or {})


def bind_context(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add fields to the log context until `unbind_context(token)`; None removes a field."""
    current = {**(_CONTEXT.get() or {}), **fields}
    return _CONTEXT.set({k: v for k, v in current.items() if v is not None})


def unbind_context(token: contextvars.Token[dict[str, Any] | None]) -> None:
    with suppress(ValueError):  # set in another context (a thread): nothing of ours to undo here
        _CONTEXT.reset(token)


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Log lines inside carry `fields`; an exception leaving it remembers the stage it failed in."""
    token = bind_context(**fields)
    try:
        yield
    except BaseException as exc:
        note_failure(exc)
        raise
    finally:
        unbind_context(token)


def note_failure(exc: BaseException) -> None:
    """Record on the exception where it happened (the innermost stage and project win)."""
    for key, value in (_CONTEXT.get() or {}).items():
        if key in ("stage", "project_id") and not hasattr(exc, f"kv_{key}"):
            with suppress(AttributeError):  # exceptions with __slots__
                setattr(exc, f"kv_{key}", value)


def current_format() -> str:
    """"json" or "text": what configure_logging chose."""
    return _FORMAT["current"]


def failure_stage(exc: BaseException, default: str = "unknown") -> str:
    return str(getattr(exc, "kv_stage", None) or default)


class _ContextFilter(logging.Filter):
    """Copies the log context onto the record (fields passed with `extra=` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_CONTEXT.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    """`12:00:01 INFO logger: message [project_id=9001 stage=embed]` — readable on a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [f"{k}={getattr(record, k)}" for k in ("project_id", "stage") if hasattr(record, k)]
        return f"{line} [{' '.join(fields)}]" if fields else line


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = scrub(message), None
        record.exc_info = None if record.exc_info and has_secrets() else record.exc_info
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": RUN_ID,
        }
        # The context (project_id, stage) and every `extra=` field become top-level JSON fields.
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return scrub(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(log_format: str | None, level: str = "INFO") -> None:
    fmt = log_format or "text"
    handler = logging.StreamHandler(sys.stderr)
    _FORMAT["current"] = "json" if fmt == "json" else "text"
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    handler.addFilter(_ScrubFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger(AUDIT_LOGGER).setLevel(logging.INFO)  # audit lines whatever LOG_LEVEL says
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "sentence_transformers", "transformers", "filelock",
                  "openai._base_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

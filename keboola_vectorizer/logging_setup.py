"""Logging: readable lines on a terminal, JSON lines in the container; secrets scrubbed from both."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

RUN_ID = uuid.uuid4().hex[:12]
_SECRETS: set[str] = set()
MASK = "***"


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never be printed; every log line and error line is scrubbed of them."""
    _SECRETS.update(v for v in values if v and len(v) >= 4)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = scrub(message), None
        record.exc_info = None if record.exc_info and _SECRETS else record.exc_info
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
        for key in ("project_id", "stage", "event", "audit"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return scrub(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(log_format: str | None, level: str = "INFO") -> None:
    fmt = log_format or ("text" if sys.stderr.isatty() else "text")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(_ScrubFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "sentence_transformers", "transformers", "filelock",
                  "openai._base_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

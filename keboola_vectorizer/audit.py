"""Audit and run reporting shared by the CLI commands: one audit line per search, one report per run.

The audit line goes to the `keboola_vectorizer.audit` logger (always at INFO, whatever LOG_LEVEL says).
It names the caller by the first 12 hex digits of the sha256 of their Storage API token — never the
token itself — or `anonymous` when no token is configured. In JSON mode every field is a top-level
JSON field; in text mode the message alone is readable. A failed search is audited in JSON mode only:
on a terminal the CLI's single `error:` line is all a failure prints.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any, TypeVar

from keboola_vectorizer.errors import VectorizerError
from keboola_vectorizer.logging_setup import AUDIT_LOGGER, RUN_ID, current_format, failure_stage, scrub
from keboola_vectorizer.metrics import get_metrics

audit_log = logging.getLogger(AUDIT_LOGGER)
log = logging.getLogger("keboola_vectorizer.run")  # not __name__: that is the audit logger's name

F = TypeVar("F", bound=Callable[..., Any])


def token_hash(token: str | None) -> str:
    """`anonymous`, or the first 12 hex digits of the token's sha256 (stable, not reversible)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12] if token else "anonymous"


def _active_filters(filters: Any) -> dict[str, Any]:
    data = asdict(filters) if is_dataclass(filters) and not isinstance(filters, type) else dict(filters or {})
    return {key: value for key, value in data.items() if value}


def log_search(*, token: str | None, query: str, mode: str, filters: Any, limit: int,
               results: list[Any] | None, seconds: float, command: str = "search") -> None:
    """The audit line of one search (results None: it failed) and its latency metric."""
    who = token_hash(token)
    active = _active_filters(filters)
    count = None if results is None else len(results)
    outcome = "ok" if results is not None else "error"
    metrics = get_metrics()
    if results is None:
        metrics.error(command)
    else:
        metrics.search_latency(seconds, mode)
    if results is None and current_format() != "json":
        return  # on a terminal the CLI's one `error:` line is the whole failure output
    shown = f"{count} results" if count is not None else "failed"
    audit_log.info(
        "%s by token %s: %s for %r (mode %s, filters %s)", command, who, shown, query, mode,
        active or "none",
        extra={"audit": command, "token_hash": who, "query": query, "filters": active, "mode": mode,
               "limit": limit, "result_count": count, "outcome": outcome, "seconds": round(seconds, 4)},
    )


def observed_run(command: str) -> Callable[[F], F]:
    """Decorate a CLI command: service check OK/CRITICAL, run duration and an error event on failure.

    The exception still propagates, so `cli.runner.main()` prints its one line and exits with its code.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            except SystemExit as exc:
                if exc.code not in (0, None):
                    _failed(command, exc, time.perf_counter() - started)
                else:
                    _succeeded(command, time.perf_counter() - started)
                raise
            except BaseException as exc:
                _failed(command, exc, time.perf_counter() - started)
                raise
            _succeeded(command, time.perf_counter() - started)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _succeeded(command: str, seconds: float) -> None:
    get_metrics().run_finished(True, f"{command} run {RUN_ID} succeeded in {seconds:.1f} s", seconds,
                               command=command)


def _failed(command: str, exc: BaseException, seconds: float) -> None:
    stage = failure_stage(exc, command)
    error = type(exc).__name__
    if isinstance(exc, VectorizerError):
        reason = exc.one_line()
    elif isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    else:
        reason = f"unexpected {error}: {str(exc)[:200]}"
    reason = scrub(reason)
    message = f"{command} run {RUN_ID} failed in stage {stage}: {reason}"
    metrics = get_metrics()
    metrics.error(stage, error)
    metrics.run_finished(False, message, seconds, command=command, error=error, stage=stage)
    if current_format() == "json":  # on a terminal main() prints the one error line; don't repeat it
        project_id = getattr(exc, "kv_project_id", None)
        log.error("%s", message, extra={"stage": stage, "error": error, "outcome": "failed",
                                        **({"project_id": project_id} if project_id is not None else {})})

"""The one retry policy of every remote call (Storage API, OpenAI, Qdrant), over tenacity.

Only transient failures are retried (the caller says which: `is_transient`); waits grow
exponentially with "equal jitter" (never under half the window, so a burst of clients still spreads
out) unless the server said how long (`retry_after`); no wait runs past the deadline of the whole
call; each retry bumps the `retry` metric of its dependency and is logged by the caller's
`log_retry`. The final failure is re-raised as it was, for the caller to map onto its own error.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from keboola_vectorizer.metrics import get_metrics

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How one dependency is retried; `dependency` tags the retry metric."""

    dependency: str
    deadline_s: float  # all attempts of one call together, waits included
    initial_s: float = 1.0
    max_s: float = 30.0
    max_attempts: int | None = None
    # A server asking to wait longer than this is treated as "not today": stop rather than idle.
    max_retry_after_s: float | None = None

    def backoff(self, attempt: int) -> float:
        window = min(self.max_s, self.initial_s * 2 ** (attempt - 1))
        return window / 2 + random.uniform(0, window / 2)


class Aborted(Exception):
    """Another part of the same operation failed; this call stops instead of retrying."""


@dataclass
class RetryRun:
    """One call's attempts so far, for per-attempt timeouts and the caller's error message."""

    policy: RetryPolicy
    started: float = field(default_factory=time.monotonic)
    attempts: int = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.policy.deadline_s - self.elapsed()


def call_with_retries(fn: Callable[[], T], run: RetryRun, *, is_transient: Callable[[BaseException], bool],
                      log_retry: Callable[[BaseException | None, int, float], None],
                      retry_after: Callable[[BaseException], float | None] | None = None,
                      give_up: Callable[[BaseException, int], bool] | None = None,
                      abort: threading.Event | None = None,
                      sleep: Callable[[float], Any] = time.sleep) -> T:
    """`fn()`, retried under `run.policy`; `log_retry(exc, attempt, wait)` before each wait; `give_up`
    stops early for failures the caller knows better about; `abort` stops (and wakes) at once."""
    policy = run.policy

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after(exc) if retry_after is not None and exc is not None else None
        if asked is not None:
            # The server said when; waiting longer would be wasted, shorter futile.
            too_long = policy.max_retry_after_s is not None and asked > policy.max_retry_after_s
            return float("inf") if too_long else asked
        return policy.backoff(state.attempt_number)

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if abort is not None and abort.is_set():
            return True
        if policy.max_attempts is not None and state.attempt_number >= policy.max_attempts:
            return True
        if give_up is not None and exc is not None and give_up(exc, state.attempt_number):
            return True
        return run.elapsed() + state.upcoming_sleep >= policy.deadline_s

    def before_sleep(state: RetryCallState) -> None:
        get_metrics().retry(policy.dependency)
        log_retry(state.outcome.exception() if state.outcome else None, state.attempt_number, state.upcoming_sleep)

    def attempt() -> T:
        if abort is not None and abort.is_set():
            raise Aborted()
        run.attempts += 1
        return fn()

    # Waking at once when another part failed keeps a fatal error from waiting out backoffs.
    sleeper: Callable[[float], Any] = abort.wait if abort is not None else sleep
    retrying = Retrying(retry=retry_if_exception(is_transient), wait=wait, stop=stop, before_sleep=before_sleep,
                        sleep=sleeper, reraise=True)
    return retrying(attempt)

"""Datadog metrics through DogStatsD: run and per-project counts, stage durations, latencies, retries.

Off unless an agent is configured (`DD_AGENT_HOST` or `DD_DOGSTATSD_URL`; `DD_DOGSTATSD_DISABLE=true`
switches it off again): then every method is a no-op and the `datadog` package is not even imported.
The client reads the address (`DD_AGENT_HOST` + `DD_DOGSTATSD_PORT`, or `DD_DOGSTATSD_URL`) and the
unified service tags (`DD_ENV`, `DD_SERVICE`, `DD_VERSION`) from the environment itself; when
`DD_SERVICE` / `DD_VERSION` are unset this module adds `service:keboola-vectorizer` and the package
version so that every metric still carries them. Its own telemetry packets and origin detection are
switched off (they add packets and a container suffix nobody reads from a batch job).

Names follow `keboola_vectorizer.<noun>.<verb>`; tag values are bounded (project_id, stage, provider,
dependency, mode, command, status, error class) — never document or object ids. Sending never raises: a metrics
problem must not fail an index run. docs/observability.md lists every metric.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = "keboola_vectorizer"
SERVICE_CHECK = "keboola_vectorizer.run"
DEFAULT_SERVICE = "keboola-vectorizer"
DOCUMENT_OUTCOMES = ("extracted", "embedded", "skipped", "upserted", "deleted", "payload_updated")
# DogStatsD service check statuses.
OK, CRITICAL = 0, 2


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("keboola-vectorizer")
    except Exception:  # not installed as a distribution (a source checkout)
        return "unknown"


def _tags(**values: object) -> list[str]:
    return [f"{key}:{value}" for key, value in values.items() if value is not None and value != ""]


class Metrics:
    """One DogStatsD client, or nothing. Every method is safe to call from any thread."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @classmethod
    def disabled(cls) -> Metrics:
        return cls(None)

    @classmethod
    def from_env(cls) -> Metrics:
        env = os.environ
        if _truthy(env.get("DD_DOGSTATSD_DISABLE")):
            return cls.disabled()
        if not env.get("DD_AGENT_HOST") and not env.get("DD_DOGSTATSD_URL"):
            return cls.disabled()
        try:
            from datadog.dogstatsd.base import DogStatsd

            constant_tags = []
            if not env.get("DD_SERVICE"):
                constant_tags.append(f"service:{DEFAULT_SERVICE}")
            if not env.get("DD_VERSION"):
                constant_tags.append(f"version:{_package_version()}")
            # The client itself reads the address and DD_ENV / DD_SERVICE / DD_VERSION from os.environ.
            client = DogStatsd(namespace=NAMESPACE, constant_tags=constant_tags, disable_telemetry=True,
                               origin_detection_enabled=False)
        except Exception as exc:  # a bad address must not stop the run
            log.warning("Datadog metrics are off: the DogStatsD client could not start (%s)", exc)
            return cls.disabled()
        log.debug("Datadog metrics on: DogStatsD at %s:%s", client.host, client.port)
        return cls(client)

    # -- the low level, never raising -----------------------------------------------------------

    def _send(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self._client is None:
            return
        try:
            getattr(self._client, method)(*args, **kwargs)
        except Exception as exc:  # pragma: no cover - the client swallows socket errors itself
            log.debug("Datadog %s failed: %s", method, exc)

    def count(self, name: str, value: int, **tags: object) -> None:
        self._send("increment", name, value, tags=_tags(**tags))

    def distribution(self, name: str, value: float, **tags: object) -> None:
        self._send("distribution", name, round(float(value), 6), tags=_tags(**tags))

    def gauge(self, name: str, value: float, **tags: object) -> None:
        self._send("gauge", name, value, tags=_tags(**tags))

    # -- what the pipeline and the CLI report ---------------------------------------------------

    def documents(self, outcome: str, count: int, project_id: int | str | None = None) -> None:
        """`keboola_vectorizer.documents.<outcome>` (extracted, embedded, skipped, upserted, deleted,
        payload_updated)."""
        if outcome not in DOCUMENT_OUTCOMES:
            raise ValueError(f"unknown document outcome {outcome!r}")
        self.count(f"documents.{outcome}", int(count), project_id=project_id)

    def project_counts(self, project_id: int | str, counts: dict[str, int]) -> None:
        for outcome in DOCUMENT_OUTCOMES:
            if outcome in counts:
                self.documents(outcome, counts[outcome], project_id)

    def stage_duration(self, stage: str, seconds: float, project_id: int | str | None = None) -> None:
        self.distribution("stage.duration", seconds, stage=stage, project_id=project_id)

    def project_duration(self, project_id: int | str, seconds: float) -> None:
        self.distribution("project.duration", seconds, project_id=project_id)

    def embed_latency(self, seconds: float, provider: str) -> None:
        self.distribution("embedding.latency", seconds, provider=provider)

    def upsert_latency(self, seconds: float) -> None:
        self.distribution("upsert.latency", seconds)

    def retry(self, dependency: str) -> None:
        """One retried request to `dependency`: storage_api, openai or qdrant.

        (Tagged `dependency`, not `service`: `service` is the unified service tag of this job.)
        """
        self.count("requests.retried", 1, dependency=dependency)

    def error(self, stage: str, error: str | None = None) -> None:
        """A failure in `stage`; `error` is the exception class name (a bounded value)."""
        self.count("errors.raised", 1, stage=stage, error=error)

    def search_latency(self, seconds: float, mode: str) -> None:
        self.distribution("search.latency", seconds, mode=mode)

    def run_finished(self, ok: bool, message: str, seconds: float, *, command: str = "index",
                     error: str | None = None, stage: str | None = None) -> None:
        """The end of a run: service check, duration, outcome count, last success or an error event."""
        if self._client is None:
            return
        status = "ok" if ok else "failed"
        self.distribution("run.duration", seconds, command=command, status=status)
        self.count("run.finished", 1, command=command, status=status)
        if ok:
            self.gauge("run.last_success", int(time.time()), command=command)
        self._send("service_check", SERVICE_CHECK, OK if ok else CRITICAL, tags=_tags(command=command),
                   message=message)
        if not ok:
            self._send("event", "keboola-vectorizer run failed", message, alert_type="error",
                       tags=_tags(command=command, stage=stage, error=error))
        self.flush()

    def flush(self) -> None:
        self._send("flush")

    def close(self) -> None:
        if self._client is not None:
            self.flush()
            self._send("close_socket")


_lock = threading.Lock()
_metrics: Metrics | None = None


def get_metrics() -> Metrics:
    """The process-wide metrics, built from the environment on first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = Metrics.from_env()
    return _metrics


def reset_metrics(metrics: Metrics | None = None) -> None:
    """Replace the process-wide metrics (tests; None rebuilds from the environment on next use)."""
    global _metrics
    with _lock:
        old, _metrics = _metrics, metrics
    if old is not None and old is not metrics:
        old.close()

"""Debounce: a burst of events (a job creating ten tables, a save touching rows) becomes one re-index.

A project is ready once no new relevant event arrived for `settle_s`, or once its oldest pending change
has waited `max_wait_s` (a steady trickle must not postpone indexing forever).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settle:
    settle_s: float
    max_wait_s: float
    first_at: float | None = None
    last_at: float | None = None

    def saw(self, now: float) -> None:
        if self.first_at is None:
            self.first_at = now
        self.last_at = now

    def pending(self) -> bool:
        return self.first_at is not None

    def ready(self, now: float) -> bool:
        if self.first_at is None or self.last_at is None:
            return False
        return now - self.last_at >= self.settle_s or now - self.first_at >= self.max_wait_s

    def due_in(self, now: float) -> float:
        """Seconds until `ready` turns true (0 when it is)."""
        if self.first_at is None or self.last_at is None:
            return float("inf")
        return max(0.0, min(self.last_at + self.settle_s, self.first_at + self.max_wait_s) - now)

    def reset(self) -> None:
        self.first_at = self.last_at = None

"""One project's events feed: `GET /v2/storage/events?sinceId=&sortOrder=asc&limit=`, read from a cursor.

Events become visible seconds after the change, and not always in id order, so the feed re-reads a
short look-back: it asks from `floor` (every event at or below it was seen at least `lookback_s` ago)
and drops the events it has already returned. The floor is what may be stored as the cursor: a restart
from it replays at most the look-back, and replaying is harmless because re-indexing is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from keboola_vectorizer.errors import KeboolaApiError
from keboola_vectorizer.watch.classify import event_id

LOOKBACK_S = 30.0
PAGE = 1000  # the API allows up to 10,000; a page this size is a few hundred KB


class EventsApi(Protocol):
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...


def reads_all_events(verify: dict[str, Any]) -> bool:
    """Whether a token lists every event of its project (else only the events it caused itself)."""
    return bool(verify.get("isMasterToken") or verify.get("admin") or verify.get("canReadAllProjectEvents"))


class EventsFeed:
    def __init__(self, api: EventsApi, cursor: int, *, lookback_s: float = LOOKBACK_S, page: int = PAGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.floor = cursor
        self.lookback_s = lookback_s
        self.page = page
        self._clock = clock
        self._seen: dict[int, float] = {}  # ids above the floor -> when first returned

    def _list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        answer = self.api.get("events", params)
        if not isinstance(answer, list) or not all(isinstance(e, dict) and "id" in e for e in answer):
            raise KeboolaApiError("Storage API answered GET /v2/storage/events with an unexpected shape "
                                  "(expected a JSON array of events)",
                                  "check KBC_STORAGE_API_URL points at a Keboola stack")
        return answer

    def poll(self) -> list[dict[str, Any]]:
        """Events not returned before, oldest first."""
        now = self._clock()
        since, fresh = self.floor, []
        while True:
            page = self._list({"sinceId": since, "sortOrder": "asc", "limit": self.page})
            for event in page:
                number = event_id(event)
                since = max(since, number)
                if number > self.floor and number not in self._seen:
                    self._seen[number] = now
                    fresh.append(event)
            if len(page) < self.page:
                break
        settled = [number for number, seen_at in self._seen.items() if now - seen_at >= self.lookback_s]
        if settled:
            self.floor = max(settled)
            self._seen = {n: t for n, t in self._seen.items() if n > self.floor}
        return fresh

    def newest_id(self) -> int:
        """The project's newest event id (0 when it has none): where a first watch starts."""
        newest = self._list({"sortOrder": "desc", "limit": 1})
        return event_id(newest[0]) if newest else 0

    def retains(self, cursor: int) -> bool:
        """Whether the event at `cursor` is still in the feed: if retention dropped it, events after it
        may be gone too, and only a full re-extract is sure to catch what they said."""
        if cursor <= 0:
            return True
        first = self._list({"sinceId": cursor - 1, "sortOrder": "asc", "limit": 1})
        return bool(first) and event_id(first[0]) == cursor

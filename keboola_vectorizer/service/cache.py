"""A result cache keyed on (index generation, call, arguments), shared by concurrent requests.

Entries of older generations are dropped the first time a newer generation is seen, so a new index is
never answered from the old one's results. Identical requests in flight share one computation (single
flight): 32 clients asking the same question cost one model call, not 32.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    shared: int = 0  # requests that waited on an identical one in flight
    invalidations: int = 0

    def to_json(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "shared": self.shared,
                "invalidations": self.invalidations}


class ResultCache:
    """An LRU of finished results plus the futures of running ones; used from the event loop only."""

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self.generation: Hashable | None = None
        self.stats = CacheStats()
        self._done: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    def _enter_generation(self, generation: Hashable) -> None:
        if generation != self.generation:
            if self.generation is not None:
                self.stats.invalidations += 1
            self.generation = generation
            self._done.clear()
            self._running.clear()

    def __len__(self) -> int:
        return len(self._done)

    async def get_or_compute(self, generation: Hashable, key: Hashable,
                             compute: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
        """(value, whether it came from the cache). Failures are not cached."""
        self._enter_generation(generation)
        full_key = (generation, key)
        if full_key in self._done:
            self._done.move_to_end(full_key)
            self.stats.hits += 1
            return self._done[full_key], True
        running = self._running.get(full_key)
        if running is not None:
            self.stats.shared += 1
            return await asyncio.shield(running), True
        self.stats.misses += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._running[full_key] = future
        try:
            value = await compute()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            self._running.pop(full_key, None)
        if not future.done():
            future.set_result(value)
        if self.generation == generation:
            self._done[full_key] = value
            while len(self._done) > self.max_entries:
                self._done.popitem(last=False)
        return value, False

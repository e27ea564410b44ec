"""Ids and timestamps for one generated project, all drawn from one seeded random generator so the
same seed writes byte-identical files."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=timezone(timedelta(hours=1)))


class Stamps:
    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self._used: set[str] = set()
        self._metadata_id = self.rng.randrange(10_000_000, 90_000_000)

    def config_id(self, key: str) -> str:
        """A Storage-style numeric id, unique within the project, derived from `key` (the
        configuration's name): adding objects elsewhere to the generator does not renumber it, so
        gold ids of the demo questions stay valid."""
        for attempt in range(1000):
            digest = hashlib.sha256(f"{self.seed}/{key}/{attempt}".encode()).digest()
            value = str(100_000_000 + int.from_bytes(digest[:8], "big") % 1_300_000_000)
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError(f"no free id for {key}")

    def row_id(self, key: str) -> str:
        return self.config_id(f"row/{key}")

    def metadata_id(self) -> str:
        self._metadata_id += 1
        return str(self._metadata_id)

    def time(self, within_days: int = 600) -> str:
        """An ISO timestamp as the Storage API writes it (`2024-03-14T09:21:07+0100`)."""
        moment = _EPOCH + timedelta(seconds=self.rng.randrange(within_days * 86_400))
        return moment.strftime("%Y-%m-%dT%H:%M:%S%z")

    def uuid(self) -> str:
        """A flow phase / task id in the UUID form keboola.flow uses."""
        parts = (self.rng.getrandbits(32), self.rng.getrandbits(16), self.rng.getrandbits(12),
                 0x8000 | self.rng.getrandbits(14), self.rng.getrandbits(48))
        return "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}".format(*parts)

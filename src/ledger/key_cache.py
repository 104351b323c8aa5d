"""Customers' data keys, unwrapped, kept in memory for a short while (``KeyStore``'s cache).

An entry is (expiry on the monotonic clock, key id, key, ready AES-GCM cipher). An entry is
used only before its expiry; an expired one is dropped when read, or swept when the cache
grows past ``SWEEP_SIZE``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CACHE_SECONDS = 30.0
SWEEP_SIZE = 20_000

CachedKey = tuple[float, str, bytes, AESGCM]


class KeyCache:
    """Unwrapped data keys by customer id, each for ``seconds`` after it was put."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._entries: dict[str, CachedKey] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, key_id: str, key: bytes, now: float | None = None) -> CachedKey:
        """A cache entry for ``key``, expiring ``seconds`` from ``now``."""
        start = time.monotonic() if now is None else now
        return (start + self.seconds, key_id, key, AESGCM(key))

    def get(self, customer_id: str, now: float | None = None) -> CachedKey | None:
        """The customer's entry if it has not expired."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            cached = self._entries.get(customer_id)
        if cached is not None and cached[0] > moment:
            return cached
        return None

    def put(self, customer_id: str, entry: CachedKey) -> None:
        with self._lock:
            self._entries[customer_id] = entry

    def update(self, entries: Mapping[str, CachedKey]) -> None:
        with self._lock:
            self._entries.update(entries)

    def drop(self, customer_id: str) -> None:
        with self._lock:
            self._entries.pop(customer_id, None)

    def missing(self, customer_ids: Iterable[str], now: float) -> list[str]:
        """The ids among ``customer_ids`` with no unexpired entry, sorted; first sweeps the
        expired entries out if the cache has grown past ``SWEEP_SIZE``."""
        with self._lock:
            if len(self._entries) > SWEEP_SIZE:
                # Entries are otherwise dropped only when read after expiry.
                self._entries = {cid: entry for cid, entry in self._entries.items()
                                 if entry[0] > now}
            return sorted({customer_id for customer_id in customer_ids
                           if customer_id not in self._entries
                           or self._entries[customer_id][0] <= now})

"""Accounts kept loaded for the per-request checks of authentication."""

from __future__ import annotations

import threading

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.account import Account, account_id
from ledger.store import LedgerStore

# Accounts kept loaded for authentication (each checked against the store before use).
ACCOUNT_CACHE_SIZE = 1024


class AccountCache:
    """Accounts as last loaded from their events, for the per-request checks.

    Nothing is trusted stale: every lookup first reads the account's current version from
    the event store (one indexed read of one row), and an account whose version moved on
    (a lock, a revoked role, a new password, on any instance) is loaded afresh at exactly
    that version. What is saved is replaying the account's events on every request. The
    cached aggregates are only read, never changed or saved.
    """

    def __init__(self, store: LedgerStore, size: int = ACCOUNT_CACHE_SIZE) -> None:
        self.store = store
        self.size = size
        self._accounts: dict[str, Account] = {}
        self._lock = threading.Lock()

    def current(self, username: str) -> Account | None:
        """The account as it is now in the store, or None if there is none."""
        identifier = account_id(username)
        latest = self.store.app_recorder.select_events(identifier, desc=True, limit=1)
        if not latest:
            return None
        version = latest[0].originator_version
        with self._lock:
            cached = self._accounts.get(username)
        if cached is not None and cached.version == version:
            return cached
        try:
            found: object = self.store.repository.get(identifier, version=version)
        except (AggregateNotFoundError, ValueError):
            return None
        if not isinstance(found, Account):
            return None
        with self._lock:
            self._accounts.pop(username, None)
            while len(self._accounts) >= self.size:
                del self._accounts[next(iter(self._accounts))]
            self._accounts[username] = found
        return found

"""The event store: the eventsourcing Application configured for SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification

from ledger.domain.customer import Customer
from ledger.settings import Settings, postgres_params_of, sqlite_path_of

NOTIFICATION_BATCH = 1000


class LedgerStore(Application):  # type: ignore[type-arg]
    """One event store, one global order: the audit trail is this log."""

    name = "ledger"
    # The library refuses log reads above this; catch-up reads in big sections (DESIGN.md).
    log_section_size = NOTIFICATION_BATCH
    snapshotting_intervals = {Customer: 100}

    @property
    def app_recorder(self) -> ApplicationRecorder:
        recorder = self.recorder
        if not isinstance(recorder, ApplicationRecorder):  # pragma: no cover - library contract
            raise TypeError("the configured recorder cannot read the notification log")
        return recorder

    def read_log(self, after: int, limit: int = NOTIFICATION_BATCH) -> Sequence[Notification]:
        """Stored events after the global position ``after``, in order."""
        return self.app_recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False)

    def head_position(self) -> int:
        return self.app_recorder.max_notification_id() or 0


def store_environment(settings: Settings, *, create_tables: bool = True) -> dict[str, str]:
    """The eventsourcing environment for the configured database."""
    env: dict[str, Any] = {"CREATE_TABLE": "y" if create_tables else "n"}
    if settings.backend == "sqlite":
        path = sqlite_path_of(settings.database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    else:
        params = postgres_params_of(settings.database_url)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": params["dbname"],
            "POSTGRES_HOST": params["host"],
            "POSTGRES_PORT": params["port"],
            "POSTGRES_USER": params["user"],
            "POSTGRES_PASSWORD": params["password"],
            "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_LOCK_TIMEOUT": "10",
        }
    return env


def open_store(settings: Settings, *, create_tables: bool = True) -> LedgerStore:
    return LedgerStore(env=store_environment(settings, create_tables=create_tables))

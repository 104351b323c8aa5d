"""The unit of work on the ledger's event store: aggregates by id, saved in one transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from commands.idempotency import CommandRecord, command_record_id
from commands.ports import Clock, PersonalData, SaveConflictError, UnitOfWork
from ledger.policy import Policy
from ledger.store import LedgerStore


class StoreUnitOfWork(UnitOfWork):
    """Loads from and saves to a ``LedgerStore`` (SQLite, PostgreSQL, or the library's
    in-memory store)."""

    def __init__(self, store: LedgerStore, policy: Policy, clock: Clock, actor: str,
                 personal_data: PersonalData, *, roles: frozenset[str] = frozenset(),
                 department: str | None = None, session: str | None = None) -> None:
        super().__init__(policy, clock, actor, personal_data, roles=roles,
                         department=department, session=session)
        self.store = store

    def get(self, aggregate_id: UUID) -> object | None:
        try:
            found: object = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.store.app_recorder.select_events(aggregate_id, limit=1))

    def commit(self, record: CommandRecord) -> int:
        """Save every changed aggregate and the command's record in one transaction; the
        global position of the last event saved."""
        try:
            recordings = self.store.save(*self.changed, record)
        except IntegrityError as error:
            raise SaveConflictError(str(error)) from None
        return max(r.notification.id for r in recordings if r.notification.id is not None)

    def recorded(self, command_id: str) -> object | None:
        """The stored record of ``command_id``: its only event, or None."""
        # One read of the record's only event (no snapshot lookup, no aggregate rebuilt).
        found = list(self.store.events.get(command_record_id(command_id), limit=1))
        return found[0] if found else None

    def position_of(self, event: Any) -> int | None:
        """The global position of a stored event."""
        return self.store.position_of(event.originator_id, event.originator_version)

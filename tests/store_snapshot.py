"""A byte-exact picture of everything an event store holds, to prove a command wrote nothing.

    with store_unchanged(ledger.store), pytest.raises(NotFoundError):
        ledger.bus.execute(command, ALICE)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.store import LedgerStore

PAGE = 1000


@dataclass(frozen=True)
class StoredRecord:
    """One stored event exactly as the database holds it."""

    position: int | None
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes

    @classmethod
    def of(cls, stored: StoredEvent, position: int | None = None) -> StoredRecord:
        return cls(position, UUID(str(stored.originator_id)), stored.originator_version,
                   stored.topic, bytes(stored.state))

    def decode(self, store: LedgerStore) -> Any:
        """The domain event this record holds."""
        return store.mapper.to_domain_event(
            StoredEvent(self.originator_id, self.originator_version, self.topic, self.state))


@dataclass(frozen=True)
class StoreSnapshot:
    """Every event of the global log in order, and every aggregate snapshot."""

    events: tuple[StoredRecord, ...]
    snapshots: tuple[StoredRecord, ...]

    def added_since(self, earlier: StoreSnapshot) -> list[StoredRecord]:
        """The events stored after ``earlier`` was taken."""
        seen = set(earlier.events)
        return [record for record in self.events if record not in seen]


def snapshot_store(store: LedgerStore) -> StoreSnapshot:
    """Read every stored record, paging through the whole log."""
    events: list[StoredRecord] = []
    after = 0
    while page := store.read_log(after, PAGE):
        events.extend(StoredRecord.of(notification, notification.id) for notification in page)
        after = page[-1].id
    snapshots: list[StoredRecord] = []
    if store.snapshots is not None:
        for originator_id in dict.fromkeys(record.originator_id for record in events):
            stored = store.snapshots.recorder.select_events(originator_id)
            snapshots.extend(StoredRecord.of(snapshot) for snapshot in stored)
    return StoreSnapshot(tuple(events), tuple(snapshots))


@contextmanager
def store_unchanged(store: LedgerStore) -> Iterator[StoreSnapshot]:
    """Assert that nothing inside the block adds, alters or removes any stored record."""
    before = snapshot_store(store)
    yield before
    after = snapshot_store(store)
    assert after == before, (
        f"the store changed: {len(after.events) - len(before.events)} event(s) more, "
        f"new topics {sorted({record.topic for record in after.added_since(before)})}"
    )


@contextmanager
def only_recorded(store: LedgerStore, record: str) -> Iterator[StoreSnapshot]:
    """Assert that the block appends exactly one ``record`` (an ``AccessRecord`` event's
    name) and adds, alters or removes nothing else: what a refused operation may write."""
    before = snapshot_store(store)
    yield before
    after = snapshot_store(store)
    assert after.events[: len(before.events)] == before.events
    assert after.snapshots == before.snapshots
    assert [r.topic.rsplit(":", 1)[1] for r in after.added_since(before)] == [
        f"AccessRecord.{record}"]


def only_a_denial_recorded(store: LedgerStore) -> AbstractContextManager[StoreSnapshot]:
    """One ``PermissionDenied`` audit record, and nothing else."""
    return only_recorded(store, "PermissionDenied")


def only_a_hold_refusal_recorded(store: LedgerStore) -> AbstractContextManager[StoreSnapshot]:
    """One ``RefusedUnderLegalHold`` audit record (an execution refused under a hold)."""
    return only_recorded(store, "RefusedUnderLegalHold")

"""Writes access events (denials, logins) as cheap single-event appends: nothing is loaded."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from commands.ports import Clock
from ledger.domain.access import AccessRecord
from ledger.domain.events import LedgerAggregate
from ledger.domain.metadata import EventMetadata, recording_as
from ledger.store import LedgerStore

log = structlog.get_logger("ledger.access")


class AccessLog:
    """Appends one ``AccessRecord`` event per audited access."""

    def __init__(self, store: LedgerStore, clock: Clock,
                 on_saved: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.on_saved = on_saved

    def record(self, event_class: type[LedgerAggregate.Created], *, actor: str,
               client_address: str | None = None, **facts: object) -> None:
        metadata = EventMetadata(actor=actor, client_address=client_address)
        with recording_as(metadata, self.clock):
            record = AccessRecord.record(event_class, **facts)
        recordings = self.store.save(record)
        # A failed login for no known account names whatever was typed (a password in the
        # wrong field, a customer's name): the audit record keeps it, the log does not.
        shown = "-" if facts.get("reason") == "unknown_user" else actor
        log.info("access_recorded", record=event_class.__name__, actor=shown)
        if self.on_saved is not None and recordings:
            position = recordings[-1].notification.id
            if position is not None:
                self.on_saved(position)

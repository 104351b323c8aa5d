"""The base of every ledger event: it carries the audit metadata and a class version."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.metadata import current_metadata, current_time


class LedgerAggregate(Aggregate):
    """An aggregate whose events all record who triggered them, with which command and why."""

    class Event(Aggregate.Event):
        meta: dict[str, Any]
        # Bump in a subclass and add ``upcast_v1_v2`` when an event's shape changes.
        class_version = 1

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(
        cls, event_class: Any, *, id: UUID | None = None, **kwargs: Any
    ) -> Any:
        kwargs.setdefault("meta", current_metadata().as_dict())
        kwargs.setdefault("timestamp", current_time())
        return super()._create(event_class, id=id, **kwargs)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", current_metadata().as_dict())
        kwargs.setdefault("timestamp", current_time())
        super().trigger_event(event_class, **kwargs)

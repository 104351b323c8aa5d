"""Stored events that no longer decode: an integrity finding, never a crash.

Someone with write access to the database can leave an event's stored bytes (or its topic)
unreadable. The hash chain reports that as a modified record (``ledger audit verify``);
every other reader of the log (projections, history, the verification tools) meets it as
an ``UndecodableEventError``, which names the event by its position and never quotes the
bytes (they may hold personal data).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from eventsourcing.domain import HasOriginatorIDVersion, Snapshot
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import TopicError, resolve_topic

from ledger.domain.messages import message
from ledger.integrity.report import IntegrityViolationError


class UndecodableEventError(IntegrityViolationError):
    """A stored event whose bytes or topic no longer decode into an event."""

    def __init__(self, position: int | None, originator_id: Any, version: int, *,
                 snapshot: bool = False) -> None:
        if snapshot:
            what = message("the stored snapshot of aggregate {aggregate_id} at version "
                           "{version} cannot be decoded: the snapshots table was altered "
                           "outside the ledger; `ledger projections verify` reports it",
                           aggregate_id=str(originator_id), version=version)
        elif position is not None:
            what = message("the stored event at position {position} cannot be decoded: the "
                           "event log was altered outside the ledger; `ledger audit verify` "
                           "reports the change", position=position)
        else:
            what = message("the stored event at version {version} of aggregate "
                           "{aggregate_id} cannot be decoded: the event log was altered "
                           "outside the ledger; `ledger audit verify` reports the change",
                           aggregate_id=str(originator_id), version=version)
        super().__init__(what, details={"position": position,
                                        "aggregate_id": str(originator_id),
                                        "version": version, "snapshot": snapshot})
        self.position = position


PositionOf = Callable[[Any, int], "int | None"]


class CheckedMapper(Mapper[Any]):
    """The library's mapper, raising ``UndecodableEventError`` for an event it cannot read."""

    # Set by the store: finds the position of an event read by aggregate id, which (unlike
    # a notification read from the log) does not carry it. Asked only when decoding fails.
    position_of: PositionOf | None = None

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            if not _is_event_topic(stored_event.topic):
                raise TopicError
            event = super().to_domain_event(stored_event)
            # The library fills the object from the JSON without asking its class: an
            # event edited into other JSON that still parses (a field renamed, removed)
            # would decode, then fail whatever reads the missing field.
            if not _required_fields(type(event)) <= event.__dict__.keys():
                raise MapperDeserialisationError
            return event
        except (MapperDeserialisationError, TopicError):
            snapshot = _is_snapshot(stored_event.topic)
            position = getattr(stored_event, "id", None)
            if position is None and self.position_of is not None and not snapshot:
                position = self.position_of(stored_event.originator_id,
                                            stored_event.originator_version)
            raise UndecodableEventError(position, stored_event.originator_id,
                                        stored_event.originator_version,
                                        snapshot=snapshot) from None


# The packages whose classes the ledger stores as events (the library's own included): a
# topic read from the database is text anyone with write access to it may have chosen, so
# no module outside them is imported to resolve one.
_EVENT_PACKAGES = ("ledger.", "commands.", "eventsourcing.")


@lru_cache(maxsize=1024)
def _is_event_topic(topic: str) -> bool:
    """Whether ``topic`` names an event class of the ledger's own packages, rather than a
    module or function (``os:system``) or a class that is no event."""
    if not topic.partition(":")[0].startswith(_EVENT_PACKAGES):
        return False
    try:
        found = resolve_topic(topic)
    except Exception:  # any text that does not resolve names no event
        return False
    return isinstance(found, type) and issubclass(found, HasOriginatorIDVersion)


def _is_snapshot(topic: str) -> bool:
    """Snapshots go through the same mapper, but live apart from the log (no position)."""
    if not _is_event_topic(topic):
        return False
    try:
        return issubclass(resolve_topic(topic), Snapshot)
    except (TopicError, TypeError):
        return False


@cache
def _required_fields(event_class: type) -> frozenset[str]:
    """The fields an event of ``event_class`` must carry: those without a default (a field
    added later with one reads its default on the events stored before it)."""
    if not dataclasses.is_dataclass(event_class):
        return frozenset()
    return frozenset(f.name for f in dataclasses.fields(event_class)
                     if f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)

"""Who, when, which command and why: the metadata every domain event carries.

The command bus sets the current metadata in a context variable before it lets an
aggregate decide; aggregates copy it into every event they trigger. Outside the bus
(for example in unit tests) a system actor is recorded, so no event is anonymous.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EventMetadata:
    """The audit facts recorded with each event."""

    actor: str
    command_id: str | None = None
    correlation_id: str | None = None
    reason: str | None = None
    client_address: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        # Spelled out: dataclasses.asdict deep-copies each field, on every event written.
        return {"actor": self.actor, "command_id": self.command_id,
                "correlation_id": self.correlation_id, "reason": self.reason,
                "client_address": self.client_address}


SYSTEM_METADATA = EventMetadata(actor="system")

_current: ContextVar[EventMetadata] = ContextVar("ledger_event_metadata", default=SYSTEM_METADATA)
_clock: ContextVar[Callable[[], datetime] | None] = ContextVar("ledger_event_clock", default=None)


def current_metadata() -> EventMetadata:
    return _current.get()


def current_time() -> datetime | None:
    """The bus's clock reading, when a clock was given; None lets the library stamp the time."""
    clock = _clock.get()
    return clock() if clock is not None else None


@contextmanager
def recording_as(metadata: EventMetadata, clock: Callable[[], datetime] | None = None
                 ) -> Iterator[EventMetadata]:
    """Within this block, every triggered event carries ``metadata`` and the clock's time."""
    token = _current.set(metadata)
    clock_token = _clock.set(clock)
    try:
        yield metadata
    finally:
        _clock.reset(clock_token)
        _current.reset(token)

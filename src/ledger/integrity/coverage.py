"""What no signed checkpoint vouches for: the records after the last position a trusted
checkpoint covers, once they are older than the checkpoint interval.

A running sealer signs a checkpoint at least every ``checkpoint_every_seconds`` while
anything is left uncovered, so a record older than that which no trusted checkpoint covers
is not one still waiting for its checkpoint: the evidence for it is gone (checkpoints
removed, the seal reset, the chain's tables dropped), was never made (nothing sealed), or
is signed by a key nobody trusts. Its age is the time the library stamps in the stored
state; a record whose time cannot be read, or lies further ahead than the interval, has no
age anyone can rely on and counts as unverified too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

# How the eventsourcing library's JSON transcoder stores an event's ``timestamp``.
_TIMESTAMP = b'"timestamp":{"_type_":"datetime_iso","_data_":"'
_LONGEST_TIME = 40


def recorded_at(state: object) -> datetime | None:
    """The time stamped in a stored state, if it holds a readable, zone-aware one."""
    data = bytes(state) if isinstance(state, bytes | bytearray | memoryview) else b""
    start = data.find(_TIMESTAMP)
    if start < 0:
        return None
    start += len(_TIMESTAMP)
    end = data.find(b'"', start, start + _LONGEST_TIME)
    try:
        stamped = datetime.fromisoformat(data[start:end].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    return stamped if end > start and stamped.tzinfo is not None else None


def unverified_records(pages: Iterator[list[tuple[Any, ...]]], now: datetime,
                       interval: timedelta) -> tuple[int, int | None]:
    """How many of these records (pages of position, ..., state) are past the interval or
    of no readable age, and the first one's position."""
    count, first = 0, None
    oldest, latest = now - interval, now + interval
    for page in pages:
        for record in page:
            stamped = recorded_at(record[4])
            if stamped is None or not oldest <= stamped <= latest:
                count += 1
                first = record[0] if first is None else first
    return count, first

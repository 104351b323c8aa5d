"""What every query does before it reads: wait until the write it must see is reflected
(``min_position``), then read in one snapshot that states the position it reflects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from ledger.sql import Cursor
from projections.runner import ProjectionRunner


class AsksForPosition(Protocol):
    @property
    def min_position(self) -> int | None: ...


def checkpoint(cursor: Cursor, projection: str) -> int:
    """The event position the read model ``projection`` reflects."""
    row = cursor.one("SELECT position FROM projection_checkpoints WHERE name = :name",
                     {"name": projection})
    return int(row[0]) if row else 0


class ReadModels:
    """The read models as the queries read them."""

    def __init__(self, runner: ProjectionRunner, wait_timeout: float) -> None:
        self.runner = runner
        self.views = runner.views
        self.wait_timeout = wait_timeout

    def wait(self, query: AsksForPosition) -> None:
        """Return once ``query.min_position`` is reflected (at once if it asks for none)."""
        if query.min_position is not None:
            self.runner.wait_for(query.min_position, self.wait_timeout)

    @contextmanager
    def reading(self, query: AsksForPosition, projection: str) -> Iterator[tuple[Cursor, int]]:
        """A snapshot to answer ``query`` from, and the position ``projection`` reflects in
        it, once the query's ``min_position`` is reflected."""
        self.wait(query)
        with self.views.snapshot() as cursor:
            yield cursor, checkpoint(cursor, projection)

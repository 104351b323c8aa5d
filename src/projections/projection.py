"""What a read model is: a name, its tables, and how each relevant event changes its rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.sql import Cursor


class Projection(ABC):
    """One read model. ``apply_batch`` runs inside the transaction that also moves its
    checkpoint."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    topics: ClassVar[frozenset[str]]
    # Bump when the tables' shape changes: the runner then drops and rebuilds them.
    schema_version: ClassVar[int] = 1

    @abstractmethod
    def create_tables(self, cursor: Cursor, dialect: str) -> None: ...

    @abstractmethod
    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        """Apply ``(event, position)`` pairs in log order, in the checkpoint's transaction.

        It may fold the batch in memory and write it in a few statements (on PostgreSQL
        each statement is a round trip), but must leave exactly the rows that applying the
        events one at a time would."""

    def drop_tables(self, cursor: Cursor) -> None:
        for table in self.tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def clear(self, cursor: Cursor) -> None:
        for table in self.tables:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants

    def dump(self, cursor: Cursor) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in a stable order (to compare rebuilds)."""
        return {
            table: sorted(cursor.all(f"SELECT * FROM {table}"), key=repr)  # noqa: S608
            for table in self.tables
        }


def topic_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class EventByEventProjection(Projection):
    """A read model whose events are rare enough to apply one statement at a time."""

    @abstractmethod
    def apply(self, cursor: Cursor, event: Any, position: int) -> None: ...

    def apply_batch(self, cursor: Cursor, events: Sequence[tuple[Any, int]]) -> None:
        for event, position in events:
            self.apply(cursor, event, position)

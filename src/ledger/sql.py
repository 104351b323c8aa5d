"""SQL on the ledger's databases (read models, key store), beside the event store's recorder.

One small interface over sqlite3 and psycopg, so each projection, query and store is
written once. SQL uses ``:name`` parameters; PostgreSQL's ``%(name)s`` form is derived.
The two backends are ``ledger.sql_sqlite`` and ``ledger.sql_postgres``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

Params = Mapping[str, Any] | None
Row = tuple[Any, ...]
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Cursor(ABC):
    """Executes statements inside one open transaction."""

    @abstractmethod
    def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement; return the number of rows it changed."""

    @abstractmethod
    def fetchone(self) -> Row | None: ...

    @abstractmethod
    def fetchall(self) -> list[Row]: ...

    def one(self, sql: str, params: Params = None) -> Row | None:
        self.execute(sql, params)
        return self.fetchone()

    def all(self, sql: str, params: Params = None) -> list[Row]:
        self.execute(sql, params)
        return self.fetchall()

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement once per parameter set (pipelined where the driver can)."""

    @abstractmethod
    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row], *,
                    skip_existing: bool = False) -> None:
        """Insert many rows in as few round trips as the backend allows.

        Without ``skip_existing`` a duplicate key fails the statement, as one INSERT would;
        with it, rows whose key exists already are left out (ON CONFLICT DO NOTHING)."""


class SqlDatabase(ABC):
    """Transactions on one SQLite file or PostgreSQL database."""

    dialect: Literal["sqlite", "postgres"]

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager: a writing transaction, committed on success."""

    def setup(self) -> Any:
        """A context manager: the transaction that creates missing tables and rows at
        start-up. Where everything exists it writes nothing, and on SQLite then takes no
        write lock (a read-only command must not wait for, or block, a writer)."""
        return self.transaction()

    @abstractmethod
    def snapshot(self) -> Any:
        """A context manager: a read-only transaction that sees one consistent state."""

    @abstractmethod
    def statement(self, sql: str, params: Params = None) -> int:
        """Run one writing statement as its own transaction (one round trip); return the
        number of rows it changed."""

    @abstractmethod
    def read_row(self, sql: str, params: Params = None) -> Row | None:
        """The first row of one read, outside any explicit transaction (one round trip)."""

    def drop_broken_connections(self) -> None:
        """After a lost connection: replace every pooled connection the server cut (the
        pool would otherwise find each one by failing a request on it)."""
        return None

    @abstractmethod
    def close(self) -> None: ...


class DbApiCursor(Cursor, ABC):
    """A DB-API cursor of either driver; ``translate`` turns ``:name`` into its own style."""

    def __init__(self, cursor: Any, translate: Callable[[str], str | bytes]) -> None:
        self._cursor = cursor
        self._translate = translate

    def execute(self, sql: str, params: Params = None) -> int:
        self._cursor.execute(self._translate(sql), dict(params or {}))
        rowcount: int = self._cursor.rowcount
        return rowcount

    def fetchone(self) -> Row | None:
        row: Row | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall())


def sql_placeholders(sql: str) -> str:
    """The PostgreSQL form of a ``:name`` statement."""
    return _NAMED.sub(r"%(\1)s", sql)


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:p0, :p1, ...)`` and its parameters, for an IN clause."""
    names = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{name}" for name in names) + ")", names

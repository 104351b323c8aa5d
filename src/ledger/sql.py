"""SQL on the ledger's databases (read models, key store), beside the event store's recorder.

One small interface over sqlite3 and psycopg, so each projection, query and store is
written once. SQL uses ``:name`` parameters; PostgreSQL's ``%(name)s`` form is derived.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg_pool import ConnectionPool

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


class SqlDatabase(ABC):
    """Transactions on one SQLite file or PostgreSQL database."""

    dialect: Literal["sqlite", "postgres"]

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager: a writing transaction, committed on success."""

    @abstractmethod
    def snapshot(self) -> Any:
        """A context manager: a read-only transaction that sees one consistent state."""

    @abstractmethod
    def close(self) -> None: ...


class _DbApiCursor(Cursor):
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


def _sqlite_style(sql: str) -> str:
    return sql


def _postgres_style(sql: str) -> bytes:
    return _NAMED.sub(r"%(\1)s", sql).encode()


class SQLiteDatabase(SqlDatabase):
    """A SQLite file, one connection per thread."""

    dialect: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            target = f"file:{self.path}?mode=ro" if self.read_only else f"file:{self.path}"
            connection = sqlite3.connect(target, uri=True, isolation_level=None,
                                         check_same_thread=False, timeout=10)
            connection.execute("PRAGMA busy_timeout = 10000")
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        connection = self._connection()
        # IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield _DbApiCursor(connection.cursor(), _sqlite_style)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield _DbApiCursor(connection.cursor(), _sqlite_style)
        finally:
            connection.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._local = threading.local()


class PostgresDatabase(SqlDatabase):
    """A PostgreSQL database, through a connection pool."""

    dialect: Literal["sqlite", "postgres"] = "postgres"

    def __init__(self, conninfo: str, *, pool_size: int = 4, name: str = "ledger-sql") -> None:
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo, min_size=1, max_size=pool_size, open=True, name=name,
            kwargs={"autocommit": True},
        )

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self.pool.connection() as connection, connection.transaction():
            yield _DbApiCursor(connection.cursor(), _postgres_style)

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        with self.pool.connection() as connection, connection.transaction():
            connection.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _DbApiCursor(connection.cursor(), _postgres_style)

    def close(self) -> None:
        self.pool.close()


def sql_placeholders(sql: str) -> str:
    """The PostgreSQL form of a ``:name`` statement (exposed for tests)."""
    return _NAMED.sub(r"%(\1)s", sql)


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:p0, :p1, ...)`` and its parameters, for an IN clause."""
    names = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{name}" for name in names) + ")", names

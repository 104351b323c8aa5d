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
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from ledger.private_files import ensure_private_file

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

    @abstractmethod
    def close(self) -> None: ...


class _DbApiCursor(Cursor, ABC):
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


class _SQLiteCursor(_DbApiCursor):
    """sqlite3's own executemany: one prepared statement, stepped in C per row."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        super().__init__(cursor, _sqlite_style)

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._cursor.executemany(sql, [dict(params) for params in rows])

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row], *,
                    skip_existing: bool = False) -> None:
        if not rows:
            return
        marks = ", ".join("?" for _ in columns)
        conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
        self._cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){conflict}",  # noqa: S608
            rows)


# Below this many rows a pipelined INSERT beats setting up a COPY (measured on PostgreSQL
# 15: COPY moves ~400,000 rows/s, pipelined single-row INSERTs ~90,000).
COPY_MIN_ROWS = 64


class _PostgresCursor(_DbApiCursor):
    """psycopg's pipelined executemany, and COPY for bulk inserts."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor, _postgres_style)

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._cursor.executemany(_postgres_style(sql), [dict(params) for params in rows])

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row], *,
                    skip_existing: bool = False) -> None:
        if not rows:
            return
        target = pgsql.Identifier(table)
        names = pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
        conflict = pgsql.SQL(" ON CONFLICT DO NOTHING" if skip_existing else "")
        if len(rows) < COPY_MIN_ROWS:
            marks = pgsql.SQL(", ").join(pgsql.Placeholder() for _ in columns)
            self._cursor.executemany(pgsql.SQL("INSERT INTO {} ({}) VALUES ({}){}").format(
                target, names, marks, conflict), rows)
        elif not skip_existing:
            self._copy(target, names, rows)
        else:
            try:
                # Usually no key exists yet: try the plain COPY under a savepoint first.
                with self._cursor.connection.transaction():
                    self._copy(target, names, rows)
                return
            except psycopg.errors.UniqueViolation:
                pass
            # COPY cannot skip existing keys: copy into a scratch table, then insert from it.
            scratch = pgsql.Identifier(f"bulk_{table}")
            self._cursor.execute(pgsql.SQL(
                "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
            ).format(scratch, names, target))
            self._copy(scratch, names, rows)
            self._cursor.execute(pgsql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}{}").format(
                target, names, names, scratch, conflict))
            self._cursor.execute(pgsql.SQL("DROP TABLE {}").format(scratch))

    def _copy(self, target: pgsql.Identifier, names: pgsql.Composable,
              rows: Sequence[Row]) -> None:
        with self._cursor.copy(pgsql.SQL("COPY {} ({}) FROM STDIN").format(target, names)
                               ) as copy:
            for row in rows:
                copy.write_row(row)


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
            if not self.read_only:
                # Made here, on first use, owner-only: SQLite would make it world-readable.
                ensure_private_file(self.path)
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
            yield _SQLiteCursor(connection.cursor())
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def statement(self, sql: str, params: Params = None) -> int:
        # The connection is in autocommit mode: one statement is one transaction.
        rowcount: int = self._connection().execute(sql, dict(params or {})).rowcount
        return rowcount

    def read_row(self, sql: str, params: Params = None) -> Row | None:
        row: Row | None = self._connection().execute(sql, dict(params or {})).fetchone()
        return row

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield _SQLiteCursor(connection.cursor())
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
            yield _PostgresCursor(connection.cursor())

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        with self.pool.connection() as connection, connection.transaction():
            connection.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _PostgresCursor(connection.cursor())

    def statement(self, sql: str, params: Params = None) -> int:
        # Pool connections are in autocommit mode: one statement is one transaction.
        with self.pool.connection() as connection:
            return connection.execute(_postgres_style(sql), dict(params or {})).rowcount

    def read_row(self, sql: str, params: Params = None) -> Row | None:
        with self.pool.connection() as connection:
            row: Row | None = connection.execute(_postgres_style(sql),
                                                 dict(params or {})).fetchone()
            return row

    def close(self) -> None:
        self.pool.close()


def sql_placeholders(sql: str) -> str:
    """The PostgreSQL form of a ``:name`` statement (exposed for tests)."""
    return _NAMED.sub(r"%(\1)s", sql)


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:p0, :p1, ...)`` and its parameters, for an IN clause."""
    names = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{name}" for name in names) + ")", names

"""SQLite behind the ledger's SQL interface (``ledger.sql``): a file, one connection per
thread, write transactions that take the lock up front."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

from ledger.private_files import ensure_private_file
from ledger.sql import Cursor, DbApiCursor, Params, Row, SqlDatabase


class _SQLiteCursor(DbApiCursor):
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


def _sqlite_style(sql: str) -> str:
    return sql


# Seconds a statement waits for another connection's lock (the ``sqlite_busy_timeout``
# setting's default).
DEFAULT_BUSY_TIMEOUT = 10.0


class SQLiteDatabase(SqlDatabase):
    """A SQLite file, one connection per thread."""

    dialect: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(self, path: Path, *, read_only: bool = False,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = path
        self.read_only = read_only
        self.busy_timeout = busy_timeout
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
                                         check_same_thread=False,
                                         timeout=self.busy_timeout)
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

    @contextmanager
    def setup(self) -> Iterator[Cursor]:
        connection = self._connection()
        # Deferred: the write lock is taken at the first write, and only if there is one
        # (CREATE ... IF NOT EXISTS of what exists writes nothing).
        connection.execute("BEGIN")
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


# SQLite's primary result codes for a file it cannot read as a database: SQLITE_CORRUPT (a
# file cut short or overwritten inside) and SQLITE_NOTADB (another kind of file).
_DAMAGED_CODES = frozenset({11, 26})


def is_damaged(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, is SQLite finding its file
    damaged or not a database: the file is unusable, whatever the request was."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlite_errorcode", None)
        if isinstance(current, sqlite3.DatabaseError) and isinstance(code, int) \
                and code & 0xFF in _DAMAGED_CODES:
            return True
        current = current.__cause__ or current.__context__
    return False


def file_is_damaged(path: Path) -> bool:
    """Whether the SQLite file at ``path`` fails SQLite's own quick check, read-only (a
    missing file, or one another process holds locked, is not damaged)."""
    if not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            verdict = db.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.Error as error:
        return is_damaged(error)
    return verdict is None or verdict[0] != "ok"

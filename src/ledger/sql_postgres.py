"""PostgreSQL behind the ledger's SQL interface (``ledger.sql``): a connection pool,
``%(name)s`` parameters derived from ``:name``, pipelined inserts and COPY for bulk ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import psycopg
from psycopg import sql as pgsql
from psycopg.abc import Buffer
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown
from psycopg_pool import ConnectionPool

from ledger.sql import Cursor, DbApiCursor, Params, Row, SqlDatabase, sql_placeholders

# Below this many rows a pipelined INSERT beats setting up a COPY (measured on PostgreSQL
# 15: COPY moves ~400,000 rows/s, pipelined single-row INSERTs ~90,000).
COPY_MIN_ROWS = 64


def _nul_free(text: str) -> str:
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


class _NulFreeText(StrDumperUnknown):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(_nul_free(obj))


class _NulFreeBinary(StrBinaryDumper):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(_nul_free(obj))


def _without_nul(connection: psycopg.Connection[Any]) -> None:
    """PostgreSQL text holds no NUL: a value holding one would fail its statement, and a
    read model applying an event that holds one (an audit record of what someone typed)
    would fail on it for ever. The service refuses control characters at its door; what
    still arrives (a stored event, an in-process caller) is written with U+FFFD instead."""
    connection.adapters.register_dumper(str, _NulFreeBinary)
    connection.adapters.register_dumper(str, _NulFreeText)


class _PostgresCursor(DbApiCursor):
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


def _postgres_style(sql: str) -> bytes:
    return sql_placeholders(sql).encode()


class PostgresDatabase(SqlDatabase):
    """A PostgreSQL database, through a connection pool."""

    dialect: Literal["sqlite", "postgres"] = "postgres"

    def __init__(self, conninfo: str, *, pool_size: int = 4, name: str = "ledger-sql") -> None:
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo, min_size=1, max_size=pool_size, open=True, name=name,
            kwargs={"autocommit": True}, configure=_without_nul,
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

    def drop_broken_connections(self) -> None:
        self.pool.check()

    def close(self) -> None:
        self.pool.close()

"""Read models checked against the log (AU-6), for ``ledger projections verify``.

Each read model is rebuilt from the events into a scratch store, up to the position its
live checkpoint says it reflects, and the live and rebuilt tables are compared: a digest
per read model, and the primary keys of the rows that differ. The live tables are only
read. The scratch store is a temporary SQLite file beside nothing, or on PostgreSQL a
schema created inside a transaction that is rolled back, so the comparison is always
between two stores of the same backend.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from ledger.sql import Cursor, SqlDatabase
from ledger.sql_sqlite import SQLiteDatabase
from ledger.store import LedgerStore
from projections.projection import Projection
from projections.reading import checkpoint

# Differing keys listed per read model (all are counted).
MAX_DIFFERENCES = 20

Rows = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]


@dataclass
class ReadModelCheck:
    """One read model: live against rebuilt, at the position the live one reflects."""

    name: str
    position: int
    live_digest: str = ""
    rebuilt_digest: str = ""
    differences: list[dict[str, Any]] = field(default_factory=list)
    differences_total: int = 0

    @property
    def ok(self) -> bool:
        return self.differences_total == 0 and self.live_digest == self.rebuilt_digest

    def as_dict(self) -> dict[str, Any]:
        return {"read_model": self.name, "position": self.position, "ok": self.ok,
                "live_digest": self.live_digest, "rebuilt_digest": self.rebuilt_digest,
                "differences": self.differences, "differences_total": self.differences_total}


@dataclass(frozen=True)
class _Layout:
    columns: tuple[str, ...]
    key: tuple[int, ...]  # indexes of the primary-key columns (every column if none)


def _layout(cursor: Cursor, dialect: str, table: str) -> _Layout:
    if dialect == "sqlite":
        described = cursor.all("SELECT name, pk FROM pragma_table_info(:t) ORDER BY cid",
                               {"t": table})
        columns = tuple(str(name) for name, _ in described)
        ranked = sorted((int(pk), str(name)) for name, pk in described if int(pk) > 0)
        key_columns = [name for _, name in ranked]
    else:
        columns = tuple(str(row[0]) for row in cursor.all(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = :t ORDER BY ordinal_position", {"t": table}))
        key_columns = [str(row[0]) for row in cursor.all(
            "SELECT kcu.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu"
            "  ON kcu.constraint_name = tc.constraint_name"
            "  AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name"
            " WHERE tc.table_schema = current_schema() AND tc.table_name = :t"
            "  AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position",
            {"t": table})]
    key = tuple(columns.index(name) for name in key_columns) or tuple(range(len(columns)))
    return _Layout(columns, key)


def _rows(cursor: Cursor, table: str, layout: _Layout) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    # Table and column names come from the projections and the catalogue, never from input.
    found = cursor.all(f"SELECT {', '.join(layout.columns)} FROM {table}")  # noqa: S608
    return {tuple(row[i] for i in layout.key): tuple(row) for row in found}


def _digest(rows: Rows) -> str:
    digest = hashlib.sha256()
    for table in sorted(rows):
        digest.update(table.encode() + b"\x00")
        for row in sorted(repr(row) for row in rows[table].values()):
            digest.update(row.encode() + b"\x00")
    return digest.hexdigest()


@contextmanager
def scratch_store(views: SqlDatabase) -> Iterator[Cursor]:
    """A writable, empty store of the same backend as ``views``, discarded afterwards."""
    if views.dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ledger-verify-") as directory:
            scratch = SQLiteDatabase(Path(directory) / "scratch.sqlite3")
            try:
                with scratch.transaction() as cursor:
                    yield cursor
            finally:
                scratch.close()
        return

    class DiscardScratchError(Exception):
        """Not a failure: rolls the scratch schema back with everything in it."""

    try:
        with views.transaction() as cursor:
            schema = f"ledger_verify_{uuid4().hex}"
            cursor.execute(f"CREATE SCHEMA {schema}")
            cursor.execute(f"SET LOCAL search_path TO {schema}")
            yield cursor
            raise DiscardScratchError
    except DiscardScratchError:
        pass


Progress = Callable[[int, int], None]


def verify_read_models(store: LedgerStore, views: SqlDatabase,
                       projections: Sequence[Projection], *, batch_size: int = 5000,
                       progress: Progress | None = None) -> list[ReadModelCheck]:
    """Rebuild every projection into a scratch store and compare it with the live one.

    ``projections`` must have no side effects beyond their own tables (the runner's
    customer view destroys erased customers' keys; pass one without a key store)."""
    layouts: dict[str, _Layout] = {}
    with views.snapshot() as cursor:
        positions = {p.name: checkpoint(cursor, p.name) for p in projections}
        live: dict[str, Rows] = {}
        for projection in projections:
            live[projection.name] = {}
            for table in projection.tables:
                layouts[table] = _layout(cursor, views.dialect, table)
                live[projection.name][table] = _rows(cursor, table, layouts[table])
    with scratch_store(views) as scratch:
        for projection in projections:
            projection.create_tables(scratch, views.dialect)
        _replay(store, scratch, projections, positions, batch_size, progress)
        rebuilt = {p.name: {table: _rows(scratch, table, layouts[table]) for table in p.tables}
                   for p in projections}
    return [_compare(p, positions[p.name], live[p.name], rebuilt[p.name], layouts)
            for p in projections]


def _replay(store: LedgerStore, scratch: Cursor, projections: Sequence[Projection],
            positions: dict[str, int], batch_size: int, progress: Progress | None) -> None:
    """Apply the log to each projection up to its own live position, decoding once."""
    head = max(positions.values(), default=0)
    after = 0
    while after < head:
        page = [n for n in store.read_log(after, batch_size) if n.id <= head]
        if not page:
            break
        decoded: dict[int, Any] = {}
        for projection in projections:
            events = [(decoded.get(n.id) or decoded.setdefault(
                          n.id, store.mapper.to_domain_event(n)), n.id)
                      for n in page
                      if n.id <= positions[projection.name] and n.topic in projection.topics]
            if events:
                projection.apply_batch(scratch, events)
        after = page[-1].id
        if progress is not None:
            progress(after, head)


def _compare(projection: Projection, position: int, live: Rows, rebuilt: Rows,
             layouts: dict[str, _Layout]) -> ReadModelCheck:
    check = ReadModelCheck(projection.name, position, _digest(live), _digest(rebuilt))
    for table in projection.tables:
        layout = layouts[table]
        mine, theirs = live[table], rebuilt[table]
        for key in sorted(set(mine) | set(theirs), key=repr):
            if mine.get(key) == theirs.get(key):
                continue
            check.differences_total += 1
            if len(check.differences) >= MAX_DIFFERENCES:
                continue
            columns: list[str] = []
            if key not in theirs:
                problem = "row not in the rebuilt read model"
            elif key not in mine:
                problem = "row missing from the live read model"
            else:
                problem = "row differs"
                columns = [name for name, a, b in zip(layout.columns, mine[key], theirs[key],
                                                      strict=True) if a != b]
            check.differences.append({
                "table": table, "problem": problem, "columns": columns,
                "key": {layout.columns[i]: value for i, value in zip(layout.key, key,
                                                                     strict=True)}})
    return check

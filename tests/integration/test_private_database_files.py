"""A SQLite database made through ``SQLiteDatabase``, and every file SQLite makes beside it
(rollback journal, write-ahead log, shared memory), is private whatever the umask (issue 10
item 14). SQLite only: PostgreSQL keeps no files of the ledger's."""

from __future__ import annotations

from pathlib import Path

from ledger.sql_sqlite import SQLiteDatabase
from tests.file_modes import mode, permissive_umask  # noqa: F401 - autouse fixture


def test_a_new_database_and_its_rollback_journal_are_the_owners_alone(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "new" / "keys.sqlite3")
    try:
        with database.transaction() as cursor:
            cursor.execute("CREATE TABLE t (x INTEGER)")
            cursor.execute("INSERT INTO t (x) VALUES (1)")
            journal = tmp_path / "new" / "keys.sqlite3-journal"
            assert journal.exists()  # while the write is open
            assert mode(journal) == 0o600
    finally:
        database.close()
    assert mode(tmp_path / "new" / "keys.sqlite3") == 0o600
    assert mode(tmp_path / "new") == 0o700


def test_the_write_ahead_log_and_shared_memory_are_the_owners_alone(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "ledger.sqlite3")
    try:
        database.statement("PRAGMA journal_mode = WAL")
        with database.transaction() as cursor:
            cursor.execute("CREATE TABLE t (x INTEGER)")
        beside = {path.name: mode(path) for path in tmp_path.glob("ledger.sqlite3-*")}
    finally:
        database.close()
    assert beside == {"ledger.sqlite3-wal": 0o600, "ledger.sqlite3-shm": 0o600}

"""Tampering with what lies outside the hash chain (snapshots, read models, the key store)
as someone with write access to the database would: plain SQL, on either backend."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from ledger.settings import sqlite_path_of


class RawTables:
    """One database driven with plain SQL outside the ledger (``?`` marks a parameter)."""

    def __init__(self, database_url: str) -> None:
        self.sqlite = database_url.startswith("sqlite")
        if self.sqlite:
            self.connection: Any = sqlite3.connect(sqlite_path_of(database_url),
                                                   isolation_level=None)
        else:
            self.connection = psycopg.connect(database_url, autocommit=True)
        self.snapshots = "stored_snapshots" if self.sqlite else "ledger_snapshots"

    def __enter__(self) -> RawTables:
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.close()

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        marked = statement if self.sqlite else statement.replace("?", "%s")
        cursor = self.connection.execute(marked, params)
        return list(cursor.fetchall()) if cursor.description else []

    def originator(self, customer_id: str) -> Any:
        """A customer id as the library stores it (hex text in SQLite, a uuid column in
        PostgreSQL)."""
        return customer_id.replace("-", "") if self.sqlite else customer_id

    def replace_in_snapshot(self, customer_id: str, old: str, new: str) -> None:
        """Rewrite a value inside the customer's latest snapshot, keeping it well formed."""
        version, state = self.sql(
            f"SELECT originator_version, state FROM {self.snapshots} WHERE originator_id = ? "
            "ORDER BY originator_version DESC LIMIT 1", self.originator(customer_id))[0]
        forged = bytes(state).replace(old.encode(), new.encode())
        assert forged != bytes(state), "the value to forge is not in the snapshot"
        self.sql(f"UPDATE {self.snapshots} SET state = ? WHERE originator_id = ? "
                 "AND originator_version = ?", forged, self.originator(customer_id), version)

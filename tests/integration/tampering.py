"""Tampering as someone with write access to the database would do it: direct SQL on the
events table (and, for a consistent rewrite, on the chain's own tables), on either backend.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import psycopg

from ledger.integrity.chain import GENESIS, link, record_digest
from ledger.integrity.storage import identity_of
from ledger.settings import sqlite_path_of

# A record as stored: originator id, version, topic, state.
Record = tuple[Any, int, str, bytes]


class RawEvents:
    """The events table of one database, driven with plain SQL outside the ledger."""

    def __init__(self, database_url: str) -> None:
        self.sqlite = database_url.startswith("sqlite")
        if self.sqlite:
            self.connection: Any = sqlite3.connect(sqlite_path_of(database_url),
                                                   isolation_level=None)
            self.table, self.position, self.mark = "stored_events", "rowid", "?"
        else:
            self.connection = psycopg.connect(database_url, autocommit=True)
            self.table, self.position, self.mark = "ledger_events", "notification_id", "%s"

    def close(self) -> None:
        self.connection.close()

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        cursor = self.connection.execute(statement.replace("?", self.mark), params)
        return list(cursor.fetchall()) if cursor.description else []

    # Reading -----------------------------------------------------------------

    def positions(self) -> list[int]:
        return [row[0] for row in self.sql(
            f"SELECT {self.position} FROM {self.table} ORDER BY {self.position}")]

    def record(self, position: int) -> Record:
        rows = self.sql(f"SELECT originator_id, originator_version, topic, state "
                        f"FROM {self.table} WHERE {self.position} = ?", position)
        originator_id, version, topic, state = rows[0]
        return originator_id, int(version), str(topic), bytes(state)

    # Tampering ---------------------------------------------------------------

    def flip_byte(self, position: int, index: int = 0) -> None:
        """Change one byte of the record's stored state."""
        state = bytearray(self.record(position)[3])
        if state:
            state[index % len(state)] ^= 0x01
        else:
            state.append(0)
        self.sql(f"UPDATE {self.table} SET state = ? WHERE {self.position} = ?",
                 bytes(state), position)

    def cut_state(self, position: int, keep: int = 100) -> None:
        """Cut the record's stored state short, so that it no longer decodes."""
        state = self.record(position)[3]
        self.sql(f"UPDATE {self.table} SET state = ? WHERE {self.position} = ?",
                 state[:keep], position)

    def position_of(self, originator_id: str, version: int = 1) -> int:
        """The position of one aggregate's event (ids as the ledger names them)."""
        stored = originator_id.replace("-", "") if self.sqlite else originator_id
        rows = self.sql(f"SELECT {self.position} FROM {self.table} WHERE originator_id = ? "
                        "AND originator_version = ?", stored, version)
        return int(rows[0][0])

    def set_column(self, position: int, column: str, value: Any) -> None:
        self.sql(f"UPDATE {self.table} SET {column} = ? WHERE {self.position} = ?",
                 value, position)

    def delete(self, position: int) -> None:
        self.sql(f"DELETE FROM {self.table} WHERE {self.position} = ?", position)

    def move(self, position: int, to: int) -> None:
        self.sql(f"UPDATE {self.table} SET {self.position} = ? WHERE {self.position} = ?",
                 to, position)

    def swap(self, first: int, second: int) -> None:
        self.move(first, -1)
        self.move(second, first)
        self.move(-1, second)

    def insert_forged(self, position: int, like: Record) -> None:
        """Slip a forged record in at ``position``, moving every later record up by one."""
        # Through negative positions, so no two rows ever share one on the way.
        self.sql(f"UPDATE {self.table} SET {self.position} = -{self.position} "
                 f"WHERE {self.position} >= ?", position)
        self.sql(f"UPDATE {self.table} SET {self.position} = 1 - {self.position} "
                 f"WHERE {self.position} < 0")
        self.insert(position, forged_like(like, self.sqlite))

    def insert(self, position: int, record: Record) -> None:
        self.sql(f"INSERT INTO {self.table} ({self.position}, originator_id, originator_version,"
                 f" topic, state) VALUES (?, ?, ?, ?, ?)", position, *record)

    # Covering tracks in the chain's tables ---------------------------------------

    def reseal(self, position: int) -> None:
        """Recompute the seal of the record at ``position`` from the record as it is now and
        the seal before it, as someone covering one edit would (later seals are left)."""
        before = self.sql("SELECT chain_hash FROM integrity_chain WHERE position < ? "
                          "ORDER BY position DESC LIMIT 1", position)
        previous = bytes(before[0][0]) if before else GENESIS
        originator_id, version, topic, state = self.record(position)
        digest = record_digest(originator_id, version, topic, state)
        self.sql("UPDATE integrity_chain SET record_digest = ?, chain_hash = ? "
                 "WHERE position = ?", digest, link(previous, position, digest), position)

    def add_junk_checkpoints(self, count: int, *, from_sequence: int, at_position: int) -> None:
        """Rows in the checkpoint table that are no signed checkpoint at all."""
        for index in range(count):
            self.sql("INSERT INTO integrity_checkpoints (sequence, position, payload, signature, "
                     "public_key) VALUES (?, ?, ?, ?, ?)", from_sequence + index,
                     at_position + index, "{}", b"\0" * 64, b"\0" * 32)

    def reset_seal(self) -> None:
        """Empty the chain and the checkpoint table and put the seal back at the start, as
        if nothing had ever been sealed."""
        self.sql("DELETE FROM integrity_chain")
        self.sql("DELETE FROM integrity_checkpoints")
        self.sql("UPDATE integrity_seal SET position = 0, records = 0, chain_hash = ?, "
                 "checkpoint_sequence = 0", GENESIS)

    def drop_events_table(self) -> None:
        self.sql(f"DROP TABLE {self.table}")

    def drop_integrity_tables(self) -> None:
        for table in ("integrity_chain", "integrity_seal", "integrity_checkpoints"):
            self.sql(f"DROP TABLE {table}")

    # A consistent rewrite ----------------------------------------------------

    def rewrite_chain(self, *, keep_checkpoints: bool = False) -> None:
        """Recompute every seal from the records as they are now (the formula is public),
        as an attacker covering their tracks would; they cannot sign, so by default they
        remove the signed checkpoints too."""
        self.sql("DELETE FROM integrity_chain")
        previous_position, chain = 0, GENESIS
        rows = self.sql(f"SELECT {self.position}, originator_id, originator_version, topic, "
                        f"state FROM {self.table} ORDER BY {self.position}")
        for position, originator_id, version, topic, state in rows:
            digest = record_digest(originator_id, version, topic, bytes(state))
            chain = link(chain, position, digest)
            self.sql("INSERT INTO integrity_chain (position, previous_position, originator_id, "
                     "originator_version, record_digest, chain_hash) VALUES (?, ?, ?, ?, ?, ?)",
                     position, previous_position, identity_of(originator_id), version, digest,
                     chain)
            previous_position = position
        sequence = self.sql("SELECT checkpoint_sequence FROM integrity_seal")[0][0]
        if not keep_checkpoints:
            self.sql("DELETE FROM integrity_checkpoints")
            sequence = 0
        self.sql("UPDATE integrity_seal SET position = ?, records = ?, chain_hash = ?, "
                 "checkpoint_sequence = ?", previous_position, len(rows), chain, sequence)


def forged_like(record: Record, sqlite: bool) -> Record:
    """A plausible record: the same kind of event as ``record``, for a new originator."""
    originator = uuid.uuid4()
    return (originator.hex if sqlite else originator, 1, record[2], record[3])

"""Backups of the key store, apart from the event log's (DP-2), each under its own ring key.

A key-store backup holds the key store's tables as they are (every data key wrapped under
the KEK, the erasure tombstones, the sealed-secret keys). When a customer is erased, a
fresh key-store backup is written (without the destroyed key), and then every older
key-store backup that still holds that customer's key has its ring key destroyed: those
copies can no longer be read by anyone, and the fresh one stands in for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.backup.check import invalid
from ledger.backup.errors import BackupInvalidError
from ledger.backup.location import BackupDirectory
from ledger.backup.manifest import (
    FileEntry,
    Manifest,
    SignedManifest,
    sign_manifest,
    write_manifest,
)
from ledger.backup.records import (
    FILE_NUMBERS,
    KEYSTORE_FILE,
    cell,
    context_of,
    lines_of,
    read_lines,
    uncell,
)
from ledger.backup.ring import BackupKeyRing
from ledger.backup.sealed_files import write_sealed
from ledger.crypto import KeyMaterialError, key_id_of
from ledger.domain.messages import message
from ledger.integrity.keys import SigningKey
from ledger.sql import SqlDatabase

# The key store's own tables (ledger.keystore, ledger.sealed_secrets). The erasure
# follower's checkpoint is left out on purpose: a restored key store starts it at 0, so
# every erasure the log holds is applied to it again.
KEYSTORE_TABLES: dict[str, tuple[str, ...]] = {
    "data_keys": ("customer_id", "key_id", "wrapped", "kek_id", "created_at"),
    "erased_keys": ("customer_id", "key_id", "erased_at"),
    "reserved_keys": ("customer_id", "reserved_at"),
    "keystore_meta": ("name", "value"),
    "credential_keys": ("name", "key_id", "wrapped", "kek_id", "created_at"),
}


@dataclass(frozen=True)
class KeyStoreBackups:
    """The key-store backups' directory and the ring of their keys."""

    directory: BackupDirectory
    ring: BackupKeyRing
    # None where backups are only read (verify, restore): nothing is signed there.
    signing: SigningKey | None = None

    def take(self, db: SqlDatabase, *, created_by: str, now: datetime,
             register_version: int) -> SignedManifest:
        if self.signing is None:
            raise KeyMaterialError("a key-store backup is signed: no signing key was given")
        signing = self.signing
        backup_id = self.directory.new_id("keys", now)
        key = secrets.token_bytes(32)
        # The key is in the ring before any byte is written with it: a crash leaves an
        # unused key, never a backup nobody can read.
        self.ring.add(backup_id, key)
        try:
            with self.directory.writing(backup_id) as staging, db.snapshot() as cursor:
                counts: dict[str, int] = {}

                def rows() -> Iterator[Any]:
                    for table, names in KEYSTORE_TABLES.items():
                        found = cursor.all(f"SELECT {', '.join(names)} FROM {table}")  # noqa: S608 - constants
                        counts[table] = len(found)
                        yield ["t", table, list(names)]
                        for row in found:
                            yield ["r", [cell(value) for value in row]]

                done = write_sealed(staging / KEYSTORE_FILE, lines_of(rows()), key,
                                    context=context_of(backup_id, KEYSTORE_FILE),
                                    file_number=FILE_NUMBERS[KEYSTORE_FILE])
                manifest = Manifest(
                    backup_id=backup_id, kind="keys", parent_id=None, after_position=0,
                    last_position=0, records=counts.get("data_keys", 0), chain_start=None,
                    chain_end=None, checkpoint=None,
                    files=[FileEntry(done.name, done.size, done.sha256, done.plain_bytes)],
                    key_id=key_id_of(key, "backup-ring"), wrapped_data_key=None,
                    source_backend=db.dialect, erasure_register_version=register_version,
                    created_at=now.isoformat(), created_by=created_by,
                    extra={"erased_keys": counts.get("erased_keys", 0)})
                signed = sign_manifest(manifest, signing)
                write_manifest(staging, signed)
        except BaseException:
            self.ring.shred([backup_id], customer_id=None, at=now.isoformat())
            raise
        return signed

    def key_of(self, signed: SignedManifest) -> bytes:
        backup_id = signed.manifest.backup_id
        key = self.ring.key(backup_id)
        if key is None:
            if backup_id in self.ring.shredded():
                raise BackupInvalidError(
                    message("key-store backup {backup_id} was shredded after an erasure: it can "
                            "no longer be read", backup_id=backup_id),
                    details={"backup_id": backup_id, "status": "shredded"})
            raise invalid(backup_id, KEYSTORE_FILE, "has no key in the backup key ring")
        if key_id_of(key, "backup-ring") != signed.manifest.key_id:
            raise invalid(backup_id, KEYSTORE_FILE, "is not sealed under its ring key")
        return key

    def tables(self, signed: SignedManifest) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """The backup's tables: column names and rows."""
        backup_id = signed.manifest.backup_id
        found: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        current: list[tuple[Any, ...]] = []
        for item in read_lines(self.directory.directory_of(backup_id), KEYSTORE_FILE,
                               self.key_of(signed), backup_id):
            if item[0] == "t":
                current = []
                found[item[1]] = (list(item[2]), current)
            elif item[0] == "r" and found:
                current.append(tuple(uncell(value) for value in item[1]))
            else:
                raise invalid(backup_id, KEYSTORE_FILE, "holds a malformed row")
        return found

    def holds_key_of(self, signed: SignedManifest, customer_id: str) -> bool:
        columns, rows = self.tables(signed).get("data_keys", ([], []))
        index = columns.index("customer_id") if "customer_id" in columns else 0
        return any(str(row[index]) == customer_id for row in rows)

    def readable(self) -> list[SignedManifest]:
        """The key-store backups whose ring key still exists, oldest first."""
        shredded = self.ring.shredded()
        found = []
        for backup_id in self.directory.ids():
            if backup_id in shredded:
                continue
            try:
                found.append(self.directory.manifest(backup_id))
            except BackupInvalidError:
                continue
        return found

    def shred_holders(self, customer_ids: list[str], *, newer_than: str, at: str
                      ) -> dict[str, list[str]]:
        """Destroy the ring keys of every key-store backup older than ``newer_than`` that
        holds a key of one of these (erased) customers; return, per customer, the ids."""
        wanted = set(customer_ids)
        shredded: dict[str, list[str]] = {}
        for signed in self.readable():
            backup_id = signed.manifest.backup_id
            if backup_id >= newer_than:
                continue
            try:
                columns, rows = self.tables(signed).get("data_keys", ([], []))
            except BackupInvalidError:
                continue
            index = columns.index("customer_id") if "customer_id" in columns else 0
            held = sorted({str(row[index]) for row in rows} & wanted)
            for customer_id in held:
                shredded.setdefault(customer_id, []).append(backup_id)
            if held:
                self.ring.shred([backup_id], customer_id=held[0], at=at)
                for customer_id in held[1:]:
                    self.ring.shred([], customer_id=customer_id, at=at)
        return shredded

    def prune(self, *, retention: timedelta, now: datetime) -> list[str]:
        """Shred and remove key-store backups older than the retention, keeping the newest."""
        readable = self.readable()
        removed = []
        for signed in readable[:-1]:
            if now - datetime.fromisoformat(signed.manifest.created_at) > retention:
                self.ring.shred([signed.manifest.backup_id], customer_id=None,
                                at=now.isoformat())
                self.directory.remove(signed.manifest.backup_id)
                removed.append(signed.manifest.backup_id)
        return removed


def restore_keystore(backups: KeyStoreBackups, signed: SignedManifest, target: SqlDatabase,
                     make_tables: Any) -> int:
    """Write a key-store backup's tables into an empty key store (``make_tables`` is the key
    store's own set-up); returns how many data keys it restored."""
    tables = backups.tables(signed)
    make_tables()
    with target.transaction() as cursor:
        cursor.execute("DELETE FROM keystore_meta")
        for table, (columns, rows) in tables.items():
            if KEYSTORE_TABLES.get(table) == tuple(columns) and rows:
                cursor.insert_rows(table, columns, rows, skip_existing=True)
    return len(tables.get("data_keys", ([], []))[1])

"""The key store: each customer's data key, wrapped under the KEK, in its own database.

Keys never leave this store unwrapped (they are unwrapped into memory for use, and cached
briefly). Erasure deletes the wrapped key and leaves a tombstone; the customer's
``Erased`` event in the event log records it as well, and the erasure follower
(``ledger.erasures``) re-applies every erasure the log holds past its checkpoint, kept in
this store, so a key store restored from an older backup cannot bring an erased key back
into use. The key store is kept apart from the event store so that data
backups never contain keys (DP-2); see README, "Personal data and erasure".
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import key_rotation, sealed_secrets
from ledger.crypto import KeyMaterialError, key_id_of, new_data_key, unwrap, wrap
from ledger.key_cache import CACHE_SECONDS, CachedKey, KeyCache
from ledger.sql import SqlDatabase, in_list

log = structlog.get_logger("ledger.keystore")

# Keys made ahead for new customers, in one transaction: a registration then writes no
# key-store row of its own (README, "Benchmarks").
RESERVE_BATCH = 64
PREFETCH_CHUNK = 500


class KeyStore:
    """Creates, unwraps, destroys and re-wraps customers' data keys (the cache is in
    ``ledger.key_cache``, the KEK's checks and rotation in ``ledger.key_rotation``)."""

    def __init__(self, db: SqlDatabase, kek: bytes, *, cache_seconds: float = CACHE_SECONDS
                 ) -> None:
        self.db = db
        self._kek = kek
        self.cache = KeyCache(cache_seconds)
        # Customer ids whose keys are stored but not yet handed out: (id, key id, key).
        self._reserved: list[tuple[str, str, bytes]] = []
        self._reserve_lock = threading.Lock()

    @property
    def kek_id(self) -> str:
        return key_id_of(self._kek, "kek")

    # Set-up ------------------------------------------------------------------

    def create_tables(self, index_key_id: str | None = None) -> None:
        """Create the tables, and refuse a KEK (or blind-index key) other than the one the
        store was made with: a changed index key would silently break every search."""
        blob = "BYTEA" if self.db.dialect == "postgres" else "BLOB"
        with self.db.setup() as cursor:
            cursor.execute(f"""CREATE TABLE IF NOT EXISTS data_keys (
                customer_id TEXT PRIMARY KEY, key_id TEXT NOT NULL UNIQUE,
                wrapped {blob} NOT NULL, kek_id TEXT NOT NULL, created_at TEXT NOT NULL)""")
            cursor.execute("""CREATE TABLE IF NOT EXISTS erased_keys (
                customer_id TEXT PRIMARY KEY, key_id TEXT, erased_at TEXT NOT NULL)""")
            # Which ids were made ahead (``new_customer_id``): a spare key among them belongs
            # to no customer yet, legitimately; any other key must belong to one.
            cursor.execute("""CREATE TABLE IF NOT EXISTS reserved_keys (
                customer_id TEXT PRIMARY KEY, reserved_at TEXT NOT NULL)""")
            cursor.execute("""CREATE TABLE IF NOT EXISTS keystore_meta (
                name TEXT PRIMARY KEY, value TEXT NOT NULL)""")
            sealed_secrets.create_table(cursor, self.db.dialect)
            key_rotation.record_key_ids(cursor, self.kek_id, index_key_id)

    # Keys ------------------------------------------------------------------------

    def create(self, customer_id: str) -> str:
        """A new data key for a customer (or the existing one: retries are safe)."""
        # A key in memory is a stored key (a reserved id's, or one just made): nothing to do.
        cached = self.cache.get(customer_id)
        if cached is not None:
            return cached[1]
        key = new_data_key()
        key_id = key_id_of(key, "data")
        # One statement, one round trip, on the hot path of every registration: it writes
        # the key only while the KEK is still the one this process wraps with, and never
        # for an erased customer id; the reasons for writing nothing are sorted out after.
        inserted = self.db.statement(key_rotation.insert_key_sql(self.db.dialect), {
            "cid": customer_id, "kid": key_id, "wrapped": wrap(self._kek, key),
            "kek": self.kek_id, "at": _now()})
        if inserted == 1:
            # The new key is used at once to seal the registration: keep it, unwrapped,
            # rather than read it back and unwrap it again.
            self.cache.put(customer_id, self.cache.entry(key_id, key))
            return key_id
        stored = self._stored(customer_id)
        if stored is not None:
            return stored[0]
        if self.is_erased(customer_id):
            raise KeyMaterialError("this customer id belongs to an erased customer")
        raise KeyMaterialError(key_rotation.ROTATED)

    def new_customer_id(self) -> str:
        """A fresh customer id whose data key is already stored (durably, before the id is
        handed out, so no event can ever name a customer without a key). Keys are made
        ``RESERVE_BATCH`` at a time; the ones not handed out are released at ``close``."""
        with self._reserve_lock:
            if not self._reserved:
                self._reserved = self._reserve(RESERVE_BATCH)
            customer_id, key_id, key = self._reserved.pop()
        # Cached like any key: should it expire before use, it is read back from the store.
        self.cache.put(customer_id, self.cache.entry(key_id, key))
        return customer_id

    def give_back(self, customer_id: str) -> None:
        """Put an id from ``new_customer_id`` back among the spares: the command it was
        handed to saved nothing (a replay, a refusal), so its key belongs to no customer
        and must not be counted as one (``status``) nor kept after ``close``."""
        found = self._cached(customer_id)
        if found is None:
            return  # released meanwhile: nothing is left to give back
        _, key_id, key, _ = found
        with self._reserve_lock:
            self._reserved.append((customer_id, key_id, key))

    def _reserve(self, count: int) -> list[tuple[str, str, bytes]]:
        made = []
        for _ in range(count):
            key = new_data_key()
            made.append((str(uuid4()), key_id_of(key, "data"), key))
        at = _now()
        with self.db.transaction() as cursor:
            key_rotation.check_kek_current(cursor, self.db.dialect, self.kek_id)
            cursor.insert_rows(
                "data_keys", ("customer_id", "key_id", "wrapped", "kek_id", "created_at"),
                [(customer_id, key_id, wrap(self._kek, key), self.kek_id, at)
                 for customer_id, key_id, key in made])
            cursor.insert_rows("reserved_keys", ("customer_id", "reserved_at"),
                               [(customer_id, at) for customer_id, _, _ in made])
        return made

    def release_reserved(self) -> int:
        """Delete the keys made ahead and never handed out (at shutdown): they protect
        nothing. A crash leaves at most ``RESERVE_BATCH`` such keys, equally harmless."""
        with self._reserve_lock:
            unused, self._reserved = self._reserved, []
        if unused:
            with self.db.transaction() as cursor:
                for table in ("data_keys", "reserved_keys"):
                    cursor.executemany(f"DELETE FROM {table} WHERE customer_id = :cid",  # noqa: S608
                                       [{"cid": customer_id} for customer_id, _, _ in unused])
        return len(unused)

    def data_key(self, customer_id: str) -> tuple[str, bytes] | None:
        """The customer's (key id, key), or None once erased."""
        found = self._cached(customer_id)
        return (found[1], found[2]) if found else None

    def cipher(self, customer_id: str) -> tuple[str, AESGCM] | None:
        """The customer's (key id, ready AES-GCM cipher), or None once erased."""
        found = self._cached(customer_id)
        return (found[1], found[3]) if found else None

    def prefetch(self, customer_ids: Iterable[str]) -> int:
        """Unwrap many customers' keys into the cache with one query per ``PREFETCH_CHUNK``
        ids: a catch-up opens thousands of customers, one lookup each would dominate it.
        Returns how many keys were read; erased customers simply have none."""
        now = time.monotonic()
        wanted = self.cache.missing(customer_ids, now)
        read = 0
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            clause, params = in_list("c", wanted[start:start + PREFETCH_CHUNK])
            with self.db.snapshot() as cursor:
                rows = cursor.all("SELECT customer_id, key_id, wrapped FROM data_keys "  # noqa: S608
                                  f"WHERE customer_id IN {clause}", params)
            entries = {}
            for customer_id, key_id, wrapped in rows:
                key = unwrap(self._kek, bytes(wrapped))
                entries[str(customer_id)] = self.cache.entry(str(key_id), key, now)
            self.cache.update(entries)
            read += len(entries)
        return read

    def _cached(self, customer_id: str) -> CachedKey | None:
        now = time.monotonic()
        cached = self.cache.get(customer_id, now)
        if cached is not None:
            return cached
        stored = self._stored(customer_id)
        if stored is None:
            return None
        key_id, wrapped = stored
        entry = self.cache.entry(key_id, unwrap(self._kek, wrapped), now)
        self.cache.put(customer_id, entry)
        return entry

    def destroy(self, customer_id: str) -> str | None:
        """Destroy a customer's data key for good; return its id (None if already gone)."""
        self.cache.drop(customer_id)
        with self.db.transaction() as cursor:
            if self.db.dialect == "sqlite":
                # Overwrite the deleted row in the file: SQLite keeps freed bytes unless
                # built or told otherwise, and the wrapped key must not survive there.
                cursor.execute("PRAGMA secure_delete = ON")
            row = cursor.one("SELECT key_id FROM data_keys WHERE customer_id = :cid",
                             {"cid": customer_id})
            cursor.execute("DELETE FROM data_keys WHERE customer_id = :cid", {"cid": customer_id})
            cursor.execute(
                "INSERT INTO erased_keys (customer_id, key_id, erased_at) VALUES (:cid, :kid, :at)"
                " ON CONFLICT (customer_id) DO NOTHING",
                {"cid": customer_id, "kid": row[0] if row else None, "at": _now()})
        if row is not None:
            log.info("data_key_destroyed", key_id=row[0])
        return str(row[0]) if row else None

    def is_erased(self, customer_id: str) -> bool:
        return self.db.read_row("SELECT 1 FROM erased_keys WHERE customer_id = :cid",
                                {"cid": customer_id}) is not None

    def erased_customers(self) -> list[str]:
        """Every customer whose key this store has destroyed."""
        with self.db.snapshot() as cursor:
            return [str(row[0]) for row in cursor.all("SELECT customer_id FROM erased_keys")]

    def names_its_key(self, key_id: str, wrapped: bytes) -> bool:
        """Whether a stored wrapped key unwraps under the KEK to the key its id names."""
        try:
            return key_id_of(unwrap(self._kek, wrapped), "data") == key_id
        except KeyMaterialError:
            return False

    def erased_key_id(self, customer_id: str) -> str | None:
        with self.db.snapshot() as cursor:
            row = cursor.one("SELECT key_id FROM erased_keys WHERE customer_id = :cid",
                             {"cid": customer_id})
        return str(row[0]) if row and row[0] else None

    def credential_key(self, name: str) -> bytes:
        """The key that seals login secrets of one kind (``sealed_secrets``), wrapped under
        the KEK beside the data keys; made on first use."""
        return sealed_secrets.credential_key(self.db, self._kek, name)

    # Rotation and status ----------------------------------------------------------

    def rotate_kek(self, new_kek: bytes) -> int:
        """Re-wrap every data key (and the credential keys) under ``new_kek`` in one
        transaction; events and the sealed secrets are untouched. Returns the data keys'
        count."""
        new_id = key_id_of(new_kek, "kek")
        # Spare keys made ahead are simply dropped; new ones are made under the new KEK.
        self.release_reserved()
        with self.db.transaction() as cursor:
            keys, credential_keys = key_rotation.rewrap_all(cursor, self._kek, new_kek, new_id)
        self._kek = new_kek
        log.info("kek_rotated", keys=keys, credential_keys=credential_keys, kek_id=new_id)
        return keys

    def status(self) -> dict[str, Any]:
        with self.db.snapshot() as cursor:
            active = cursor.one("SELECT COUNT(*) FROM data_keys")
            destroyed = cursor.one("SELECT COUNT(*) FROM erased_keys")
        # This process's spare keys belong to no customer yet (another running instance's
        # spares, at most RESERVE_BATCH each, are counted as active: see README).
        with self._reserve_lock:
            spare = len(self._reserved)
        return {"active_keys": (int(active[0]) if active else 0) - spare,
                "reserved_keys": spare,
                "destroyed_keys": int(destroyed[0]) if destroyed else 0,
                "kek_id": self.kek_id}

    def _stored(self, customer_id: str) -> tuple[str, bytes] | None:
        # One statement needs no explicit transaction: one round trip, not four.
        row = self.db.read_row("SELECT key_id, wrapped FROM data_keys WHERE customer_id = :cid",
                               {"cid": customer_id})
        return (str(row[0]), bytes(row[1])) if row else None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")

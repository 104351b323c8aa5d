"""The KEK a key store's data keys are wrapped under: recorded when the store is made,
checked before a key is written under it, and rotated by re-wrapping every key.

A key wrapped under a KEK other than the store's would be lost with that KEK, so every
write of a key checks the store's KEK id in the same transaction (``KeyStore``).
"""

from __future__ import annotations

from ledger import sealed_secrets
from ledger.crypto import KeyMaterialError, unwrap, wrap
from ledger.domain.messages import message
from ledger.sql import Cursor

ROTATED = "the KEK was rotated since this process started; restart it with the new KEK"


def record_key_ids(cursor: Cursor, kek_id: str, index_key_id: str | None) -> None:
    """Record the KEK's (and blind-index key's) id in a new store, or refuse one other than
    the store was made with: a changed index key would silently break every search."""
    row = cursor.one("SELECT value FROM keystore_meta WHERE name = 'kek_id'")
    if row is None:
        cursor.execute("INSERT INTO keystore_meta (name, value) VALUES ('kek_id', :id)",
                       {"id": kek_id})
    elif row[0] != kek_id:
        raise KeyMaterialError(
            message("the configured KEK is not the one this key store was made with (store "
                    "expects KEK id {expected}, configured KEK id {configured})",
                    expected=row[0], configured=kek_id))
    if index_key_id is not None:
        row = cursor.one("SELECT value FROM keystore_meta WHERE name = 'index_key_id'")
        if row is None:
            cursor.execute("INSERT INTO keystore_meta (name, value) VALUES"
                           " ('index_key_id', :id)", {"id": index_key_id})
        elif row[0] != index_key_id:
            raise KeyMaterialError(
                message("the configured blind-index key is not the one this ledger's search "
                        "indexes were made with (expected key id {expected}, configured "
                        "{configured})", expected=row[0], configured=index_key_id))


def insert_key_sql(dialect: str) -> str:
    """One statement that writes a data key only while the KEK is still ``:kek``, and
    never for an erased customer id."""
    # Another process may be rotating the KEK: a key wrapped under the old KEK now
    # would be lost with it. On PostgreSQL, FOR SHARE waits for a rotation in progress
    # and then sees the new KEK id; SQLite's write lock already excludes one.
    lock = " FOR SHARE" if dialect == "postgres" else ""
    return ("INSERT INTO data_keys (customer_id, key_id, wrapped, kek_id, created_at)"  # noqa: S608
            " SELECT :cid, :kid, :wrapped, :kek, :at"
            " WHERE EXISTS (SELECT 1 FROM keystore_meta"
            f"  WHERE name = 'kek_id' AND value = :kek{lock})"
            " AND NOT EXISTS (SELECT 1 FROM erased_keys WHERE customer_id = :cid)"
            " ON CONFLICT (customer_id) DO NOTHING")


def check_kek_current(cursor: Cursor, dialect: str, kek_id: str) -> None:
    """Refuse to write keys under ``kek_id`` once the store has been rotated past it."""
    # FOR SHARE waits for a KEK rotation in progress (see insert_key_sql).
    select = "SELECT value FROM keystore_meta WHERE name = 'kek_id'"
    row = cursor.one(select + " FOR SHARE" if dialect == "postgres" else select)
    if row is None or row[0] != kek_id:
        raise KeyMaterialError(ROTATED)


def rewrap_all(cursor: Cursor, old_kek: bytes, new_kek: bytes, new_id: str) -> tuple[int, int]:
    """Re-wrap every data key and credential key under ``new_kek``, in ``cursor``'s
    transaction; return how many of each."""
    # The marker first: a key being created meanwhile is either refused or seen.
    cursor.execute("UPDATE keystore_meta SET value = :id WHERE name = 'kek_id'",
                   {"id": new_id})
    rows = cursor.all("SELECT customer_id, wrapped FROM data_keys")
    for customer_id, wrapped in rows:
        rewrapped = wrap(new_kek, unwrap(old_kek, bytes(wrapped)))
        cursor.execute("UPDATE data_keys SET wrapped = :w, kek_id = :kek "
                       "WHERE customer_id = :cid",
                       {"w": rewrapped, "kek": new_id, "cid": customer_id})
    credential_keys = sealed_secrets.rewrap_all(cursor, old_kek, new_kek, new_id)
    return len(rows), credential_keys

"""Login secrets sealed at rest (LG-4): TOTP secrets are stored in the event-store database
only as AES-256-GCM ciphertext, under a credential key kept in the key store.

The credential key is made once per key store and stored wrapped under the KEK, exactly
like a customer's data key, so a copy of the event-store database alone mints no second
factor, and a KEK rotation re-wraps it with the data keys (in the same transaction) while
the sealed secrets themselves stay untouched. Each sealed secret's associated data names
its purpose and account, so a ciphertext copied to another account's row does not open.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.crypto import KEY_BYTES, NONCE_BYTES, KeyMaterialError, key_id_of, unwrap, wrap
from ledger.domain.messages import message
from ledger.sql import Cursor, SqlDatabase

TOTP_CREDENTIAL_KEY = "totp"
# AES-GCM adds its nonce and a 16-byte tag: a sealed secret is never as short as a bare one.
SEAL_OVERHEAD = NONCE_BYTES + 16


def create_table(cursor: Cursor, dialect: str) -> None:
    blob = "BYTEA" if dialect == "postgres" else "BLOB"
    cursor.execute(f"""CREATE TABLE IF NOT EXISTS credential_keys (
        name TEXT PRIMARY KEY, key_id TEXT NOT NULL, wrapped {blob} NOT NULL,
        kek_id TEXT NOT NULL, created_at TEXT NOT NULL)""")


def rewrap_all(cursor: Cursor, old_kek: bytes, new_kek: bytes, new_kek_id: str) -> int:
    """Re-wrap every credential key under ``new_kek`` (inside the rotation's transaction)."""
    rows = cursor.all("SELECT name, wrapped FROM credential_keys")
    for name, wrapped in rows:
        cursor.execute("UPDATE credential_keys SET wrapped = :w, kek_id = :kek WHERE name = :n",
                       {"w": wrap(new_kek, unwrap(old_kek, bytes(wrapped))), "kek": new_kek_id,
                        "n": name})
    return len(rows)


def credential_key(db: SqlDatabase, kek: bytes, name: str) -> bytes:
    """The credential key called ``name``, made (and stored wrapped) on first use."""
    row = db.read_row("SELECT wrapped FROM credential_keys WHERE name = :name", {"name": name})
    if row is not None:  # the common case, read without taking SQLite's write lock
        return _unwrapped(kek, name, bytes(row[0]))
    kek_id = key_id_of(kek, "kek")
    key = secrets.token_bytes(KEY_BYTES)
    # Written only while the KEK is the store's current one (as data keys are); two
    # instances starting together both end up with whichever row was written first.
    db.statement(
        "INSERT INTO credential_keys (name, key_id, wrapped, kek_id, created_at)"
        " SELECT :name, :kid, :wrapped, :kek, :at WHERE EXISTS (SELECT 1 FROM keystore_meta"
        " WHERE name = 'kek_id' AND value = :kek) ON CONFLICT (name) DO NOTHING",
        {"name": name, "kid": key_id_of(key, "credential"), "wrapped": wrap(kek, key),
         "kek": kek_id, "at": datetime.now(UTC).isoformat()})
    row = db.read_row("SELECT wrapped FROM credential_keys WHERE name = :name", {"name": name})
    if row is None:
        raise KeyMaterialError("the KEK was rotated since this process started; "
                               "restart it with the new KEK")
    return _unwrapped(kek, name, bytes(row[0]))


def _unwrapped(kek: bytes, name: str, wrapped: bytes) -> bytes:
    try:
        return unwrap(kek, wrapped)
    except KeyMaterialError:
        raise KeyMaterialError(message("the {name} credential key does not unwrap under the "
                                       "configured KEK", name=name)) from None


class SecretSealer:
    """Seals and opens small secrets bound to a purpose and an account."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, secret: bytes, purpose: str, username: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, _bound_to(purpose, username))

    def open(self, sealed: bytes, purpose: str, username: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                      _bound_to(purpose, username))
        except InvalidTag:
            raise KeyMaterialError(message("a stored {purpose} secret does not open for its "
                                           "account (tampered, moved, or sealed by another key "
                                           "store)", purpose=purpose)) from None

    @staticmethod
    def is_sealed(stored: bytes) -> bool:
        """False for a secret stored bare, as releases before sealing did (TOTP secrets
        are 20 bytes: shorter than any sealed value)."""
        return len(stored) > SEAL_OVERHEAD


def _bound_to(purpose: str, username: str) -> bytes:
    return f"ledger-credential|{purpose}|{username}".encode()

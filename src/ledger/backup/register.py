"""The erasure register: the ids of every erased customer (ids only, not personal data),
kept signed beside the event-log backups, outside the live database.

Practitioners keep such a list by hand and re-apply it after a restore; here every backup
brings it up to date (from the key store's tombstones, which the erasure follower keeps in
step with the log), every manifest records the register's version, and every restore
applies the newest register before the restored store can be read: a customer erased after
the backup was taken stays erased. Ids are only ever added, so the version is their count.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledger.backup.errors import BackupInvalidError
from ledger.backup.location import REGISTER_NAME
from ledger.domain.messages import message
from ledger.integrity.keys import SigningKey, signature_valid
from ledger.private_files import create_private_file, private_directory

REGISTER_FORMAT = "customer-ledger/erasure-register/v1"


@dataclass(frozen=True)
class ErasureRegister:
    customer_ids: tuple[str, ...]
    updated_at: str | None

    @property
    def version(self) -> int:
        return len(self.customer_ids)

    def payload(self) -> bytes:
        return json.dumps({"format": REGISTER_FORMAT, "customer_ids": list(self.customer_ids),
                           "updated_at": self.updated_at, "version": self.version},
                          sort_keys=True, separators=(",", ":")).encode()


EMPTY_REGISTER = ErasureRegister((), None)


def read_register(directory: Path, trusted: Collection[bytes] | None) -> ErasureRegister:
    path = directory / REGISTER_NAME
    if not path.exists():
        return EMPTY_REGISTER
    details = {"file": REGISTER_NAME}
    try:
        document = json.loads(path.read_text(encoding="ascii"))
        register = ErasureRegister(tuple(str(i) for i in document["register"]["customer_ids"]),
                                   document["register"]["updated_at"])
        signature = base64.b64decode(document["signature"], validate=True)
        public_key = base64.b64decode(document["public_key"], validate=True)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
        raise BackupInvalidError(message("{file} is not a valid erasure register",
                                         file=REGISTER_NAME),
                                 details=details) from None
    if not signature_valid(public_key, signature, register.payload()) or (
            trusted is not None and public_key not in trusted):
        raise BackupInvalidError(message("{file} has a bad signature (it was changed)",
                                         file=REGISTER_NAME),
                                 details=details)
    return register


def update_register(directory: Path, erased: Iterable[str], key: SigningKey, now: datetime
                    ) -> ErasureRegister:
    """Add ``erased`` to the register (never removing an id) and sign it again."""
    current = read_register(directory, [key.public_key])
    ids = tuple(sorted(set(current.customer_ids) | set(erased)))
    if ids == current.customer_ids and current.updated_at is not None:
        return current
    register = ErasureRegister(ids, now.isoformat())
    document = {"register": json.loads(register.payload()),
                "signature": base64.b64encode(key.sign(register.payload())).decode(),
                "public_key": base64.b64encode(key.public_key).decode()}
    private_directory(directory)
    temporary = directory / f".{REGISTER_NAME}.new"
    if temporary.exists():
        temporary.unlink()
    descriptor = create_private_file(temporary)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        json.dump(document, handle, sort_keys=True, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / REGISTER_NAME)
    return register

"""The backup key ring: one key per key-store backup, in a small file kept beside the KEK
(never beside the backups). Destroying a backup's ring key makes that backup unreadable
for good, wherever copies of it went: crypto-shredding applied to backups (BK-3).

The file is rewritten whole (a new private file, then renamed over the old one) under an
exclusive lock, so two processes never lose each other's keys. What it also records is
which backups were shredded for which erased customer (ids only: no personal data), for
the erasure certificate.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.backup.records import b64, unb64
from ledger.crypto import KeyMaterialError
from ledger.domain.messages import message
from ledger.private_files import create_private_file, private_directory

RING_FORMAT = "customer-ledger/backup-key-ring/v1"
_lock = threading.Lock()


class BackupKeyRing:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The ring's contents, to change in the block; written back when it succeeds."""
        private_directory(self.path.parent)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with contextlib.suppress(FileExistsError):
            os.close(create_private_file(lock_path))
        with _lock, lock_path.open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ring = self._read()
            before = json.dumps(ring, sort_keys=True)
            yield ring
            if json.dumps(ring, sort_keys=True) != before:
                self._write(ring)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": RING_FORMAT, "keys": {}, "shredded": []}
        try:
            ring = json.loads(self.path.read_text(encoding="ascii"))
            if ring.get("format") != RING_FORMAT:
                raise ValueError("format")
        except (ValueError, UnicodeDecodeError):
            raise KeyMaterialError(message("the backup key ring is not readable: {path}",
                                           path=str(self.path))) from None
        return dict(ring)

    def _write(self, ring: dict[str, Any]) -> None:
        temporary = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = create_private_file(temporary)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            json.dump(ring, handle, sort_keys=True, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def add(self, backup_id: str, key: bytes) -> None:
        with self._locked() as ring:
            ring["keys"][backup_id] = b64(key)

    def key(self, backup_id: str) -> bytes | None:
        with self._locked() as ring:
            found = ring["keys"].get(backup_id)
        return unb64(found) if found else None

    def shred(self, backup_ids: list[str], *, customer_id: str | None, at: str) -> None:
        """Destroy the ring keys of these backups (for ``customer_id``'s erasure, if any)."""
        with self._locked() as ring:
            for backup_id in backup_ids:
                ring["keys"].pop(backup_id, None)
                ring["shredded"].append({"backup_id": backup_id, "customer_id": customer_id,
                                         "at": at})

    def shredded(self) -> set[str]:
        with self._locked() as ring:
            return {entry["backup_id"] for entry in ring["shredded"]}

    def shredded_for(self, customer_id: str) -> list[str]:
        """The key-store backups shredded because of this customer's erasure."""
        with self._locked() as ring:
            return [entry["backup_id"] for entry in ring["shredded"]
                    if entry["customer_id"] == customer_id]

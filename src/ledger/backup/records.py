"""The records a backup file holds, one JSON line each, and how they are read back.

An event-log backup has two files: ``events.lbk``, the stored event records exactly as
the database holds them (position, originator id, version, topic, state: ciphertext for
every personal value), and ``integrity.lbk``, the signed checkpoints and then the hash
chain's rows over the same positions. A key-store backup has ``keystore.lbk``: rows of
the key store's tables (data keys stay wrapped under the KEK).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.backup.errors import BackupInvalidError
from ledger.backup.sealed_files import read_sealed
from ledger.domain.messages import message

EVENTS_FILE = "events.lbk"
INTEGRITY_FILE = "integrity.lbk"
KEYSTORE_FILE = "keystore.lbk"
FILE_NUMBERS = {EVENTS_FILE: 1, INTEGRITY_FILE: 2, KEYSTORE_FILE: 3}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def identity_hex(originator_id: object) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def event_line(row: tuple[Any, ...]) -> bytes:
    position, originator_id, version, topic, state = row
    return json.dumps([int(position), identity_hex(originator_id), int(version), str(topic),
                       b64(_stored_bytes(state))], separators=(",", ":")).encode() + b"\n"


def _stored_bytes(state: Any) -> bytes:
    """A record's state as bytes. SQLite keeps whatever an edit by hand writes into the
    column (text, a number, NULL): such a record is backed up as its text's bytes, and the
    backup's check then names it as not the record sealed there, as ``audit verify`` does."""
    if isinstance(state, bytes | bytearray | memoryview):
        return bytes(state)
    return b"" if state is None else str(state).encode()


def cell(value: Any) -> Any:
    """A key-store value as JSON: bytes tagged, everything else as it is."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": b64(bytes(value))}
    return value


def uncell(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"b"}:
        return unb64(value["b"])
    return value


def context_of(backup_id: str, name: str) -> str:
    return f"{backup_id}/{name}"


def read_lines(directory: Path, name: str, key: bytes, backup_id: str) -> Iterator[Any]:
    """Each JSON line of a sealed backup file, decrypted and parsed."""
    rest = b""
    chunks = read_sealed(directory / name, key, context=context_of(backup_id, name),
                         file_number=FILE_NUMBERS[name], backup_id=backup_id)
    for chunk in chunks:
        rest += chunk
        *lines, rest = rest.split(b"\n")
        for line in lines:
            yield _parsed(line, name, backup_id)
    if rest:
        yield _parsed(rest, name, backup_id)


def _parsed(line: bytes, name: str, backup_id: str) -> Any:
    try:
        return json.loads(line.decode("ascii"))
    except ValueError:
        raise BackupInvalidError(message("backup {backup_id}: {file} holds a line that is not "
                                         "a record", backup_id=backup_id, file=name),
                                 details={"backup_id": backup_id, "file": name}) from None


def lines_of(items: Iterable[Any]) -> Iterator[bytes]:
    for item in items:
        yield json.dumps(item, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"

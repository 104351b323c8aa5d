"""Checking a backup without restoring it (pgBackRest's ``verify``, with the hash chain).

For an event-log backup, in this order: the manifest's signature under the trusted key;
every file's size and SHA-256 against the manifest; its place in the chain of backups (a
full starts at the log's start, an incremental exactly where its parent ends, on the same
chain value); then its contents: every record's seal links from the manifest's first
chain value to its last, and each signed checkpoint it holds names the chain value found
at its position. The first problem found is the verdict, naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal

from ledger.backup.errors import BackupInvalidError
from ledger.backup.manifest import MANIFEST_NAME, SignedManifest
from ledger.backup.records import EVENTS_FILE, INTEGRITY_FILE, read_lines, unb64
from ledger.backup.sealed_files import file_digest
from ledger.backup.take import GENESIS_END
from ledger.crypto import KeyMaterialError, key_id_of, unwrap
from ledger.domain.errors import ValidationFailedError
from ledger.domain.messages import as_message, message
from ledger.integrity.chain import record_digest
from ledger.integrity.checkpoints import SignedCheckpoint

Status = Literal["valid", "invalid", "missing", "shredded"]
EventRow = tuple[int, str, int, str, bytes]
ChainItem = tuple[int, int, str, int, bytes, bytes]


@dataclass(frozen=True)
class Verdict:
    """What verify says of one backup."""

    backup_id: str
    kind: str
    status: Status
    reason: str | None = None
    file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"backup_id": self.backup_id, "kind": self.kind, "status": self.status,
                "reason": self.reason, "file": self.file}


def invalid(backup_id: str, file: str, why: str) -> BackupInvalidError:
    return BackupInvalidError(message("backup {backup_id}: {file} {why}", backup_id=backup_id,
                                      file=file, why=as_message(why)),
                              details={"backup_id": backup_id, "file": file})


def check_files(directory: Path, signed: SignedManifest, trusted: Collection[bytes] | None) -> None:
    """The manifest's signature, and every file it lists, byte for byte."""
    signed.check(trusted)
    manifest = signed.manifest
    for entry in manifest.files:
        path = directory / entry.name
        if not path.exists():
            raise invalid(manifest.backup_id, entry.name, "is missing")
        size, digest = file_digest(path)
        if size != entry.size:
            raise invalid(manifest.backup_id, entry.name,
                          message("is {size} bytes, the manifest says {expected} (truncated "
                                  "or extended)", size=size, expected=entry.size))
        if digest != entry.sha256:
            raise invalid(manifest.backup_id, entry.name,
                          "does not match its SHA-256 in the manifest (changed)")


def check_follows(signed: SignedManifest, parent: SignedManifest | None) -> None:
    """A full starts the log; an incremental starts where its parent ends."""
    manifest = signed.manifest
    if manifest.kind == "full":
        if (manifest.parent_id is not None or manifest.after_position != 0
                or manifest.chain_start != GENESIS_END):
            raise invalid(manifest.backup_id, MANIFEST_NAME,
                          "says full but does not start at the log's start")
        return
    if parent is None:
        raise BackupInvalidError(
            message("backup {backup_id}: its parent {parent_id} is missing",
                    backup_id=manifest.backup_id, parent_id=manifest.parent_id),
            details={"backup_id": manifest.backup_id, "parent_id": manifest.parent_id})
    before = parent.manifest
    if (before.kind not in ("full", "incremental")
            or before.last_position != manifest.after_position
            or before.chain_end != manifest.chain_start):
        raise BackupInvalidError(
            message("backup {backup_id}: does not start where its parent {parent_id} ends "
                    "(position {position})", backup_id=manifest.backup_id,
                    parent_id=before.backup_id, position=before.last_position),
            details={"backup_id": manifest.backup_id, "parent_id": before.backup_id})


def data_key_of(signed: SignedManifest, backup_key: bytes) -> bytes:
    manifest = signed.manifest
    if manifest.key_id != key_id_of(backup_key, "backup") or not manifest.wrapped_data_key:
        raise invalid(manifest.backup_id, MANIFEST_NAME,
                      message("names backup key {key_id}, not the configured one "
                              "({configured}): wrong backup key", key_id=manifest.key_id,
                              configured=key_id_of(backup_key, "backup")))
    try:
        return unwrap(backup_key, unb64(manifest.wrapped_data_key))
    except (KeyMaterialError, ValueError):
        raise invalid(manifest.backup_id, MANIFEST_NAME,
                      "holds a data key that does not unwrap under the backup key") from None


def event_rows(directory: Path, signed: SignedManifest, data_key: bytes) -> Iterator[EventRow]:
    backup_id = signed.manifest.backup_id
    for item in read_lines(directory, EVENTS_FILE, data_key, backup_id):
        try:
            position, identity, version, topic, state = item
            yield int(position), str(identity), int(version), str(topic), unb64(state)
        except (TypeError, ValueError):
            raise invalid(backup_id, EVENTS_FILE, "holds a malformed record") from None


def integrity_items(directory: Path, signed: SignedManifest, data_key: bytes
                    ) -> tuple[list[SignedCheckpoint], Iterator[ChainItem]]:
    """The checkpoints (read first), and the chain rows that follow them."""
    backup_id = signed.manifest.backup_id
    lines = read_lines(directory, INTEGRITY_FILE, data_key, backup_id)
    checkpoints: list[SignedCheckpoint] = []
    first_row: Any = None
    for item in lines:
        if isinstance(item, list) and item and item[0] == "k":
            try:
                checkpoints.append(SignedCheckpoint.from_export(item[1]["export"]))
            except (TypeError, KeyError, ValidationFailedError):
                raise invalid(backup_id, INTEGRITY_FILE,
                              "holds an unreadable checkpoint") from None
            continue
        first_row = item
        break

    def rows() -> Iterator[ChainItem]:
        pending = [first_row] if first_row is not None else []
        for item in _chain(pending, lines):
            try:
                tag, position, previous, identity, version, digest, chain_hash = item
                if tag != "c":
                    raise ValueError(tag)
                yield (int(position), int(previous), str(identity), int(version),
                       bytes.fromhex(digest), bytes.fromhex(chain_hash))
            except (TypeError, ValueError):
                raise invalid(backup_id, INTEGRITY_FILE, "holds a malformed chain row"
                              ) from None
    return checkpoints, rows()


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


def check_contents(directory: Path, signed: SignedManifest, backup_key: bytes,
                   trusted: Collection[bytes] | None,
                   each: Callable[[EventRow, ChainItem], None] | None = None) -> None:
    """Decrypt and walk the backup: every seal links, the ends match the manifest, every
    checkpoint is signed by the trusted key and names the chain value at its position.
    ``each`` sees every record with its seal (a restore inserts them as they pass)."""
    manifest = signed.manifest
    backup_id = manifest.backup_id
    start, end = manifest.chain_start or GENESIS_END, manifest.chain_end or GENESIS_END
    data_key = data_key_of(signed, backup_key)
    checkpoints, chain = integrity_items(directory, signed, data_key)
    wanted: dict[int, list[SignedCheckpoint]] = {}
    for checkpoint in checkpoints:
        if not checkpoint.signature_valid or (trusted is not None
                                              and checkpoint.public_key not in trusted):
            raise invalid(backup_id, INTEGRITY_FILE,
                          message("holds checkpoint {sequence} whose signature is not the "
                                  "ledger's", sequence=checkpoint.checkpoint.sequence))
        wanted.setdefault(checkpoint.checkpoint.position, []).append(checkpoint)
    running = bytes.fromhex(start.chain_hash)
    previous_position = start.position
    count = 0
    _meet(wanted, start.position, running, backup_id)
    for event in event_rows(directory, signed, data_key):
        seal = next(chain, None)
        if seal is None:
            raise invalid(backup_id, INTEGRITY_FILE, message("has no seal for position {position}",
                                                             position=event[0]))
        position, previous, identity, version, digest, chain_hash = seal
        if (position, identity, version) != (event[0], event[1], event[2]) or (
                previous != previous_position):
            raise invalid(backup_id, EVENTS_FILE,
                          message("holds a record at position {position} that its seal does "
                                  "not name", position=event[0]))
        if record_digest(event[1], event[2], event[3], event[4]) != digest:
            raise invalid(backup_id, EVENTS_FILE,
                          message("holds a record at position {position} that is not the one "
                                  "sealed", position=event[0]))
        running = sha256(running + position.to_bytes(8, "big", signed=True) + digest).digest()
        if running != chain_hash:
            raise invalid(backup_id, INTEGRITY_FILE, message("does not link at position {position}",
                                                             position=position))
        _meet(wanted, position, running, backup_id)
        if each is not None:
            each(event, seal)
        previous_position = position
        count += 1
    if next(chain, None) is not None:
        raise invalid(backup_id, EVENTS_FILE, "lacks records its seals name (truncated)")
    if wanted:
        raise invalid(backup_id, INTEGRITY_FILE,
                      "holds a checkpoint at a position the backup does not reach")
    if (running.hex() != end.chain_hash or previous_position != end.position
            or count != manifest.records or count != end.records - start.records):
        raise invalid(backup_id, EVENTS_FILE,
                      "does not end at the chain value and position its manifest names")
    if manifest.checkpoint is not None:
        latest = SignedCheckpoint.from_export(manifest.checkpoint)
        if not latest.signature_valid or (trusted is not None and latest.public_key not in trusted):
            raise invalid(backup_id, MANIFEST_NAME, "names a checkpoint not signed by the ledger")
        if checkpoints and latest != checkpoints[-1]:
            raise invalid(backup_id, MANIFEST_NAME,
                          "names a latest checkpoint the backup does not end with")


def _meet(wanted: dict[int, list[SignedCheckpoint]], position: int, running: bytes,
          backup_id: str) -> None:
    for checkpoint in wanted.pop(position, []):
        if bytes.fromhex(checkpoint.checkpoint.chain_head) != running:
            raise invalid(backup_id, INTEGRITY_FILE,
                          message("holds checkpoint {sequence}, which does not name the chain "
                                  "value at position {position}",
                                  sequence=checkpoint.checkpoint.sequence, position=position))

"""The manifest of a backup: what it holds, signed with the ledger's Ed25519 key.

The signed bytes are the canonical JSON of the manifest's fields (sorted keys, no spaces,
ASCII), as for checkpoints, so a manifest is checked with nothing but a trusted public key.
The signature covers every file's SHA-256, so one changed byte anywhere is found.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ledger.backup.errors import BackupInvalidError
from ledger.domain.messages import message
from ledger.integrity.keys import SigningKey, key_id_of, signature_valid
from ledger.private_files import create_private_file

MANIFEST_FORMAT = "customer-ledger/backup-manifest/v1"
MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
Kind = Literal["full", "incremental", "keys"]
KINDS: tuple[Kind, ...] = ("full", "incremental", "keys")


@dataclass(frozen=True)
class ChainEnd:
    """The hash chain at one end of a backup: the last sealed position, how many records
    were sealed up to it, and the chain value there (hex)."""

    position: int
    records: int
    chain_hash: str
    checkpoint_sequence: int


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str
    plain_bytes: int


@dataclass(frozen=True)
class Manifest:
    """One backup. An event backup holds the records after ``after_position`` up to
    ``last_position``, sealed from ``chain_start`` to ``chain_end``; a key-store backup
    (kind ``keys``) holds the key store's tables, ``records`` data keys."""

    backup_id: str
    kind: Kind
    parent_id: str | None
    after_position: int
    last_position: int
    records: int
    chain_start: ChainEnd | None
    chain_end: ChainEnd | None
    checkpoint: dict[str, Any] | None
    files: list[FileEntry]
    key_id: str
    wrapped_data_key: str | None
    source_backend: str
    erasure_register_version: int
    created_at: str
    created_by: str
    schema_version: int = SCHEMA_VERSION
    format: str = MANIFEST_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_position(self) -> int:
        return self.after_position + 1

    def payload(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True).encode()

    def file(self, name: str) -> FileEntry:
        for entry in self.files:
            if entry.name == name:
                return entry
        raise BackupInvalidError(message("backup {backup_id}: the manifest lists no {file}",
                                         backup_id=self.backup_id, file=name),
                                 details={"backup_id": self.backup_id, "file": name})

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Manifest:
        fields = dict(fields)
        for end in ("chain_start", "chain_end"):
            if fields.get(end) is not None:
                fields[end] = ChainEnd(**fields[end])
        fields["files"] = [FileEntry(**entry) for entry in fields["files"]]
        return cls(**fields)


@dataclass(frozen=True)
class SignedManifest:
    manifest: Manifest
    signature: bytes
    public_key: bytes

    def document(self) -> dict[str, Any]:
        return {"manifest": asdict(self.manifest), "algorithm": "Ed25519",
                "signature": base64.b64encode(self.signature).decode(),
                "public_key": base64.b64encode(self.public_key).decode()}

    def check(self, trusted: Collection[bytes] | None) -> None:
        """Refuse a manifest whose signature is bad or whose key is not the trusted one."""
        backup_id = self.manifest.backup_id
        details = {"backup_id": backup_id, "file": MANIFEST_NAME}
        if not signature_valid(self.public_key, self.signature, self.manifest.payload()):
            raise BackupInvalidError(message("backup {backup_id}: {file} has a bad signature "
                                             "(the manifest was changed)", backup_id=backup_id,
                                             file=MANIFEST_NAME), details=details)
        if trusted is not None and self.public_key not in trusted:
            raise BackupInvalidError(
                message("backup {backup_id}: {file} is signed by key {key_id}, not by a key "
                        "the ledger trusts", backup_id=backup_id, file=MANIFEST_NAME,
                        key_id=key_id_of(self.public_key)),
                details=details)


def sign_manifest(manifest: Manifest, key: SigningKey) -> SignedManifest:
    return SignedManifest(manifest, key.sign(manifest.payload()), key.public_key)


def write_manifest(directory: Path, signed: SignedManifest) -> None:
    descriptor = create_private_file(directory / MANIFEST_NAME)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        json.dump(signed.document(), handle, sort_keys=True, indent=1, ensure_ascii=True)
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(directory: Path) -> SignedManifest:
    """The manifest in a backup directory; unreadable or malformed is ``BackupInvalidError``."""
    backup_id = directory.name
    details = {"backup_id": backup_id, "file": MANIFEST_NAME}
    try:
        document = json.loads((directory / MANIFEST_NAME).read_text(encoding="ascii"))
        manifest = Manifest.from_fields(document["manifest"])
        signed = SignedManifest(manifest, base64.b64decode(document["signature"], validate=True),
                                base64.b64decode(document["public_key"], validate=True))
    except FileNotFoundError:
        raise BackupInvalidError(message("backup {backup_id}: {file} is missing",
                                         backup_id=backup_id, file=MANIFEST_NAME),
                                 details=details) from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
        raise BackupInvalidError(message("backup {backup_id}: {file} is not a valid manifest "
                                         "(damaged or truncated)", backup_id=backup_id,
                                         file=MANIFEST_NAME), details=details) from None
    if manifest.backup_id != backup_id or manifest.format != MANIFEST_FORMAT:
        raise BackupInvalidError(message("backup {backup_id}: {file} names another backup or "
                                         "format", backup_id=backup_id, file=MANIFEST_NAME),
                                 details=details)
    return signed

"""Backup files, encrypted with AES-256-GCM in chunks, failing closed.

A file is a header, then frames: one flag byte (1 on the last frame), the ciphertext's
length (4 bytes, big-endian) and the ciphertext with its tag. Each chunk of the
compressed plaintext is sealed under the backup's own data key with a nonce made of the
file's number and the chunk's index (a data key seals one backup only, so no nonce is
ever used twice) and associated data naming the backup, the file, the chunk and whether
it is the last: a chunk moved, dropped, repeated or cut off after any frame does not
open. Nothing is ever written in plaintext: a file is written encrypted or not at all.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.backup.errors import BackupInvalidError
from ledger.domain.messages import as_message, message
from ledger.private_files import create_private_file

HEADER = b"customer-ledger/backup-file/v1\n"
CHUNK_BYTES = 1 << 20
# Pieces (one record each) are gathered before compression: zlib called per small piece
# costs more than the encryption. Level 1: the states are ciphertext and barely compress.
GATHER_BYTES = 1 << 18
COMPRESSION_LEVEL = 1
_FRAME_HEAD = 5


@dataclass(frozen=True)
class WrittenFile:
    """What the manifest says of one file: its name, size and SHA-256 as stored."""

    name: str
    size: int
    sha256: str
    plain_bytes: int


def _aad(context: str, index: int, last: bool) -> bytes:
    return f"{context}|{index}|{int(last)}".encode()


def _nonce(file_number: int, index: int) -> bytes:
    return file_number.to_bytes(4, "big") + index.to_bytes(8, "big")


def write_sealed(path: Path, pieces: Iterable[bytes], key: bytes, *, context: str,
                 file_number: int) -> WrittenFile:
    """Compress and encrypt ``pieces`` into a new file at ``path`` (never an existing one)."""
    cipher = AESGCM(key)
    digest = hashlib.sha256()
    size = plain = 0
    compressor = zlib.compressobj(COMPRESSION_LEVEL)
    descriptor = create_private_file(path)
    with os.fdopen(descriptor, "wb") as handle:
        def emit(data: bytes) -> None:
            nonlocal size
            handle.write(data)
            digest.update(data)
            size += len(data)

        def seal(chunk: bytes, index: int, last: bool) -> None:
            sealed = cipher.encrypt(_nonce(file_number, index), chunk, _aad(context, index, last))
            emit(bytes([int(last)]) + len(sealed).to_bytes(4, "big") + sealed)

        emit(HEADER)
        pending = bytearray()
        gathered: list[bytes] = []
        gathered_bytes = 0
        index = 0
        for piece in pieces:
            plain += len(piece)
            gathered.append(piece)
            gathered_bytes += len(piece)
            if gathered_bytes < GATHER_BYTES:
                continue
            pending += compressor.compress(b"".join(gathered))
            gathered, gathered_bytes = [], 0
            while len(pending) >= CHUNK_BYTES:
                seal(bytes(pending[:CHUNK_BYTES]), index, False)
                del pending[:CHUNK_BYTES]
                index += 1
        pending += compressor.compress(b"".join(gathered)) + compressor.flush()
        while len(pending) > CHUNK_BYTES:
            seal(bytes(pending[:CHUNK_BYTES]), index, False)
            del pending[:CHUNK_BYTES]
            index += 1
        seal(bytes(pending), index, True)
        handle.flush()
        os.fsync(handle.fileno())
    return WrittenFile(path.name, size, digest.hexdigest(), plain)


def read_sealed(path: Path, key: bytes, *, context: str, file_number: int,
                backup_id: str) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk by chunk; any damage is ``BackupInvalidError``
    naming the backup and the file."""
    def invalid(why: str) -> BackupInvalidError:
        return BackupInvalidError(message("backup {backup_id}: {file} {why}",
                                          backup_id=backup_id, file=path.name,
                                          why=as_message(why)),
                                  details={"backup_id": backup_id, "file": path.name})

    cipher = AESGCM(key)
    decompressor = zlib.decompressobj()
    with path.open("rb") as handle:
        if handle.read(len(HEADER)) != HEADER:
            raise invalid("is not a ledger backup file")
        index = 0
        while True:
            head = handle.read(_FRAME_HEAD)
            if len(head) < _FRAME_HEAD:
                raise invalid("is truncated")
            last, length = head[0], int.from_bytes(head[1:], "big")
            if last not in (0, 1) or length > CHUNK_BYTES + 64:
                raise invalid("is damaged (a frame header is corrupt)")
            sealed = handle.read(length)
            if len(sealed) < length:
                raise invalid("is truncated")
            try:
                chunk = cipher.decrypt(_nonce(file_number, index), sealed,
                                       _aad(context, index, bool(last)))
            except InvalidTag:
                raise invalid("does not decrypt: damaged, or not made with this backup "
                              "key") from None
            try:
                yield decompressor.decompress(chunk)
                if last:
                    yield decompressor.flush()
            except zlib.error:
                raise invalid("is damaged (it does not decompress)") from None
            if last:
                break
            index += 1
        if handle.read(1):
            raise invalid("has bytes after its last frame")


def file_digest(path: Path) -> tuple[int, str]:
    """The size and SHA-256 of a file as stored."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()

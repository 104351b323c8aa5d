"""Backup files are AES-256-GCM in chunks: a file reads back exactly, and a chunk dropped,
repeated, reordered or cut off at a frame boundary, or a wrong key, is refused naming the
file (ledger.backup.sealed_files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.backup import sealed_files
from ledger.backup.errors import BackupInvalidError
from ledger.backup.sealed_files import HEADER, read_sealed, write_sealed

KEY = bytes(range(32))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks and gathering, so a few kilobytes make many frames.
    monkeypatch.setattr(sealed_files, "CHUNK_BYTES", 512)
    monkeypatch.setattr(sealed_files, "GATHER_BYTES", 300)


def pieces() -> list[bytes]:
    return [os.urandom(97) + b"\n" for _ in range(100)]


def frames(path: Path) -> tuple[bytes, list[bytes]]:
    data = path.read_bytes()[len(HEADER):]
    found = []
    while data:
        length = int.from_bytes(data[1:5], "big")
        found.append(data[:5 + length])
        data = data[5 + length:]
    return path.read_bytes()[:len(HEADER)], found


def read(path: Path, key: bytes = KEY) -> bytes:
    return b"".join(read_sealed(path, key, context="b/x.lbk", file_number=1, backup_id="b"))


def test_a_file_of_many_chunks_reads_back_exactly(tmp_path: Path) -> None:
    written = pieces()
    done = write_sealed(tmp_path / "x.lbk", written, KEY, context="b/x.lbk", file_number=1)

    assert read(tmp_path / "x.lbk") == b"".join(written)
    assert len(frames(tmp_path / "x.lbk")[1]) > 3
    assert done.plain_bytes == sum(map(len, written))


@pytest.mark.parametrize("change", ["drop last", "drop middle", "repeat", "swap",
                                    "cut at a frame"])
def test_frames_moved_or_missing_do_not_open(tmp_path: Path, change: str) -> None:
    path = tmp_path / "x.lbk"
    write_sealed(path, pieces(), KEY, context="b/x.lbk", file_number=1)
    header, found = frames(path)
    changed = {"drop last": found[:-1], "drop middle": found[:1] + found[2:],
               "repeat": found[:2] + found[1:], "swap": [found[1], found[0], *found[2:]],
               "cut at a frame": found[:2]}[change]
    path.write_bytes(header + b"".join(changed))

    with pytest.raises(BackupInvalidError, match=r"x\.lbk"):
        read(path)


def test_another_key_or_another_file_name_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "x.lbk"
    write_sealed(path, pieces(), KEY, context="b/x.lbk", file_number=1)

    with pytest.raises(BackupInvalidError, match="not made with this backup key"):
        read(path, bytes(32))
    with pytest.raises(BackupInvalidError):
        b"".join(read_sealed(path, KEY, context="b/y.lbk", file_number=1, backup_id="b"))

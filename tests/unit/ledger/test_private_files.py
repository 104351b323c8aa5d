"""Files and directories the ledger creates are private whatever the umask (issue 10 item
14): key files and missing parent directories. The SQLite files (database, journal,
write-ahead log, shared memory) are checked in tests/integration/test_private_database_files.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.private_files import create_private_file, private_directory


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # alone, it would make new files world-readable
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_parents_are_made_private_and_an_existing_directory_is_left_alone(
        tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.close(create_private_file(shared / "a" / "b" / "kek.key"))

    assert (mode(shared), mode(shared / "a"), mode(shared / "a" / "b")) == (0o755, 0o700, 0o700)
    assert mode(shared / "a" / "b" / "kek.key") == 0o600
    private_directory(shared)
    assert mode(shared) == 0o755

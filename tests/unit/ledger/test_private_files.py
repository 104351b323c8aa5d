"""Files and directories the ledger creates are private whatever the umask (issue 10 item
14): key files and missing parent directories. The SQLite files (database, journal,
write-ahead log, shared memory) are checked in tests/integration/test_private_database_files.py."""

from __future__ import annotations

import os
from pathlib import Path

from ledger.private_files import create_private_file, private_directory
from tests.file_modes import mode, permissive_umask  # noqa: F401 - autouse fixture


def test_missing_parents_are_made_private_and_an_existing_directory_is_left_alone(
        tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.close(create_private_file(shared / "a" / "b" / "kek.key"))

    assert (mode(shared), mode(shared / "a"), mode(shared / "a" / "b")) == (0o755, 0o700, 0o700)
    assert mode(shared / "a" / "b" / "kek.key") == 0o600
    private_directory(shared)
    assert mode(shared) == 0o755

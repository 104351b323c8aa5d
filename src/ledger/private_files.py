"""Files and directories the ledger creates are its account's alone (issue 10 item 14).

Key files, the SQLite databases and the one-time password file are created with mode
0600, directories with 0700, whatever the umask: a umask can only narrow a mode, and a
narrower one (say 0400) would break the ledger, so each mode is set exactly. SQLite
creates a database's ``-wal``, ``-shm`` and ``-journal`` files with the database file's
own mode, so creating the database file private makes them private as well. Existing
files and directories are left as their owner set them.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_directory(path: Path) -> None:
    """Create ``path`` and any missing parents, each with mode 0700."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process; its mode is its own
        directory.chmod(DIRECTORY_MODE)


def create_private_file(path: Path) -> int:
    """A new file (never an existing one: ``FileExistsError``) with mode 0600, open for
    writing; its directory is created private if missing. Returns the descriptor."""
    private_directory(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    except OSError:
        os.close(descriptor)
        raise
    return descriptor


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an empty file is an empty
    SQLite database, so SQLite then opens it rather than creating it world-readable)."""
    with contextlib.suppress(FileExistsError):
        os.close(create_private_file(path))


def open_to_others(descriptor: int) -> str | None:
    """The mode (``0644``) of an open file that its group or other users may read or
    write, or None when it is its owner's alone: a secret in such a file is refused, as
    ssh refuses such a private key."""
    mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
    return f"{mode:04o}" if mode & (stat.S_IRWXG | stat.S_IRWXO) else None

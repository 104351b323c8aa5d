"""Where backups live: a directory of event-log backups and, apart from it, a directory of
key-store backups (DP-2), each backup a directory of its own named by its id.

A backup is written under a hidden ``.<id>.partial`` name and renamed into place only once
every file and the signed manifest are on disk: a backup that failed half-way is never
taken for one (and is removed).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledger.backup.errors import BackupInvalidError
from ledger.backup.manifest import MANIFEST_NAME, Kind, SignedManifest, read_manifest
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import message
from ledger.private_files import private_directory

REGISTER_NAME = "erasure-register.json"
DRILL_REPORT_NAME = "last-drill.json"


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def check_backup_directory(setting: str, directory: Path, *, live_dirs: list[Path],
                           live_files: list[Path]) -> Path:
    """Refuse a backup directory inside the live data directory (or a database's), or on a
    database file: a backup must be kept in another place than the live data."""
    resolved = directory.expanduser().resolve()
    for live in live_files:
        if resolved == live.resolve():
            raise ValidationFailedError([Problem(setting, "is the database file itself")],
                                        message("{setting} names the live database file",
                                                setting=setting))
    for live in live_dirs:
        if _inside(resolved, live.resolve()):
            raise ValidationFailedError(
                [Problem(setting, "is inside the live data directory")],
                message("{setting} is inside the live data directory {directory}: keep backups "
                        "in another place", setting=setting, directory=str(live)))
    return resolved


@dataclass(frozen=True)
class BackupDirectory:
    """One directory of backups of one family (event-log or key-store)."""

    path: Path

    def new_id(self, kind: Kind, now: datetime) -> str:
        """A new id: a sequence number first (so ids sort in the order backups were taken,
        whatever the clock does), then the time, the kind and a random tail."""
        numbers = [int(name.split("-", 1)[0]) for name in self._names()
                   if name.split("-", 1)[0].isdigit()]
        sequence = max(numbers, default=0) + 1
        return (f"{sequence:08d}-{now.strftime('%Y%m%dT%H%M%SZ')}-{kind}-"
                f"{secrets.token_hex(3)}")

    def _names(self) -> list[str]:
        if not self.path.exists():
            return []
        return [entry.name.lstrip(".").removesuffix(".partial")
                for entry in self.path.iterdir() if entry.is_dir()]

    def ids(self) -> list[str]:
        """Every backup here, oldest first (ids sort in the order they were taken)."""
        if not self.path.exists():
            return []
        return sorted(entry.name for entry in self.path.iterdir()
                      if entry.is_dir() and not entry.name.startswith(".")
                      and (entry / MANIFEST_NAME).exists())

    def exists(self, backup_id: str) -> bool:
        return (self.path / backup_id / MANIFEST_NAME).exists()

    def directory_of(self, backup_id: str) -> Path:
        if (not backup_id or "/" in backup_id or backup_id.startswith(".")
                or os.sep in backup_id):
            raise ValidationFailedError([Problem("backup_id", "is not a backup id")],
                                        "not a backup id")
        return self.path / backup_id

    def manifest(self, backup_id: str) -> SignedManifest:
        if not self.exists(backup_id):
            raise BackupInvalidError(message("backup {backup_id} is missing from {directory}",
                                             backup_id=backup_id, directory=str(self.path)),
                                     details={"backup_id": backup_id, "status": "missing"})
        return read_manifest(self.directory_of(backup_id))

    def manifests(self) -> list[SignedManifest | BackupInvalidError]:
        found: list[SignedManifest | BackupInvalidError] = []
        for backup_id in self.ids():
            try:
                found.append(self.manifest(backup_id))
            except BackupInvalidError as error:
                found.append(error)
        return found

    @contextmanager
    def writing(self, backup_id: str) -> Iterator[Path]:
        """A private staging directory, renamed to the backup's id when the block succeeds,
        removed (with whatever was written) when it fails."""
        private_directory(self.path)
        staging = self.path / f".{backup_id}.partial"
        private_directory(staging)
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.replace(staging, self.path / backup_id)
        _sync_directory(self.path)

    def remove(self, backup_id: str) -> None:
        shutil.rmtree(self.directory_of(backup_id), ignore_errors=True)


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

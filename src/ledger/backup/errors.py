"""The errors of backups: one for a backup that cannot be trusted or read, whatever the
reason (each message names the backup, the file and why, never a stored value)."""

from __future__ import annotations

from ledger.domain.errors import LedgerError


class BackupInvalidError(LedgerError):
    """A backup failed a check: a file's hash, the manifest's signature, a missing parent,
    a truncated or undecryptable file, a chain that does not link, or a shredded key."""

    code = "backup_invalid"
    http_status = 422
    exit_code = 21


class BackupOverdueError(LedgerError):
    """A kind of backup (or the restore drill) is older than the schedule allows."""

    code = "backup_overdue"
    http_status = 503
    exit_code = 23


class DrillFailedError(LedgerError):
    """A restore drill's read models did not match the live ones at the same position."""

    code = "drill_failed"
    http_status = 500
    exit_code = 22

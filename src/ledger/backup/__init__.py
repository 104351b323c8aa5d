"""Backups of the event log and, apart, of the key store: full and incremental, signed,
encrypted (failing closed), verified without restoring, restored into an empty database
of either backend; and erasure that reaches every backup (README, "Backups and restore").

``take``: an event-log backup from one snapshot; ``check``: verification; ``restore``:
into an empty database; ``keystore`` and ``ring``: key-store backups and their key ring
(shredded on erasure); ``register``: the erasure register; ``status``: the last success
of each kind against the schedule, for ``ledger backup status`` and monitoring.
"""

from ledger.backup.status import BackupStatus, KindStatus, status

__all__ = ["BackupStatus", "KindStatus", "status"]

"""The backup schedule (BK-1, BK-2): how often each kind of backup is due, how often a
restore drill, and how long key-store backups are kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BackupPolicy(BaseModel):
    """``[backup]`` in the policy file; ``ledger backup status`` flags what is overdue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full_every_days: float = Field(default=7, gt=0, le=366)
    incremental_every_hours: float = Field(default=24, gt=0, le=24 * 366)
    keys_every_hours: float = Field(default=24, gt=0, le=24 * 366)
    drill_every_days: float = Field(default=30, gt=0, le=366)
    # Older key-store backups are shredded (their ring key destroyed) and removed by
    # `ledger backup keys`; the newest one is always kept.
    keys_retention_days: float = Field(default=90, gt=0, le=3660)

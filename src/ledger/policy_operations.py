"""Policy values for operations: the repair deadlines of faults (FT-3) and the thresholds of
the alert rules (FT-2). Part of ``Policy``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FaultsPolicy(BaseModel):
    """How long a fault may take to repair, in working hours (``[audit]``'s working hours
    on the working days of the holiday calendar)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    general_repair_hours: float = Field(default=4, gt=0, le=10_000)
    complex_repair_hours: float = Field(default=40, gt=0, le=10_000)


class AlertsPolicy(BaseModel):
    """When each alert rule fires; a threshold of 0 turns its rule off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    evaluate_every_seconds: float = Field(default=15, gt=0, le=3600)
    projection_lag_events: int = Field(default=1000, ge=0)
    projection_stalled_seconds: float = Field(default=120, ge=0)
    sealing_lag_records: int = Field(default=5000, ge=0)
    integrity_check_every_seconds: float = Field(default=3600, ge=0)
    failed_logins_per_window: int = Field(default=20, ge=0)
    lockouts_per_window: int = Field(default=3, ge=0)
    login_window_minutes: int = Field(default=15, ge=1, le=1440)
    audit_silence_seconds: float = Field(default=86_400, ge=0)
    webhook_timeout_seconds: float = Field(default=5, gt=0, le=120)
    webhook_attempts: int = Field(default=3, ge=1, le=10)
    repeat_every_seconds: float = Field(default=300, gt=0, le=86_400)

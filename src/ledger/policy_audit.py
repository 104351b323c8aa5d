"""Policy values for the audit trail: how long access records are kept (AU-3) and what the
anomaly report flags (AU-4). Part of ``Policy``."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, model_validator

MINIMUM_RETENTION_DAYS = 183
"""AU-3: access records are kept at least six months, whatever the policy file says."""


class AuditPolicy(BaseModel):
    """Retention of access records and the thresholds of ``ledger audit anomalies``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_record_retention_days: int = Field(default=1095, ge=MINIMUM_RETENTION_DAYS)
    failed_login_burst: int = Field(default=5, ge=2, le=1000)
    failed_login_window_minutes: int = Field(default=15, ge=1, le=1440)
    customers_read_per_hour: int = Field(default=200, ge=1, le=1_000_000)
    working_hours_start: time = time(8, 0)
    working_hours_end: time = time(19, 0)

    @model_validator(mode="after")
    def _sane_hours(self) -> AuditPolicy:
        if self.working_hours_start >= self.working_hours_end:
            raise ValueError("working_hours_start must be before working_hours_end")
        return self

"""The audit part of the policy file (AU-3, AU-4): retention never under six months."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from ledger.domain.errors import ValidationFailedError
from ledger.policy import load_policy


def test_access_records_are_kept_three_years_by_default() -> None:
    audit = load_policy().audit
    assert audit.access_record_retention_days == 1095
    assert (audit.working_hours_start, audit.working_hours_end) == (time(8), time(19))


@pytest.mark.parametrize("days", [0, 30, 182])
def test_a_retention_under_six_months_is_refused(tmp_path: Path, days: int) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(f"[audit]\naccess_record_retention_days = {days}\n", encoding="utf-8")
    with pytest.raises(ValidationFailedError) as refused:
        load_policy(path)
    assert [p.field for p in refused.value.problems] == ["audit.access_record_retention_days"]


def test_working_hours_must_start_before_they_end(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[audit]\nworking_hours_start = "18:00"\nworking_hours_end = "09:00"\n',
                    encoding="utf-8")
    with pytest.raises(ValidationFailedError):
        load_policy(path)

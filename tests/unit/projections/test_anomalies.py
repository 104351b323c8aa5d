"""Anomaly rules on hand-made trail entries: window edges, thresholds, holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.policy import load_policy
from projections.anomalies import find_anomalies
from projections.audit_trail import trail_time

POLICY = load_policy()
FRIDAY_NOON = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def entry(at: datetime, kind: str = "read", operation: str = "get-customer",
          actor: str = "li.na", targets: list[str] | None = None, address: str = "10.0.0.1",
          **facts: Any) -> dict[str, Any]:
    return {"position": 1, "recorded_at": trail_time(at), "actor": actor,
            "client_address": address, "kind": kind, "operation": operation,
            "outcome": "ok", "targets": targets or [], "facts": facts}


def failed(at: datetime, username: str = "li.na") -> dict[str, Any]:
    return entry(at, "login", "login-failed", actor=username, targets=[username],
                 username=username)


def test_failures_spread_wider_than_the_window_are_no_burst() -> None:
    window = timedelta(minutes=POLICY.audit.failed_login_window_minutes)
    size = POLICY.audit.failed_login_burst
    spread = [failed(FRIDAY_NOON + window * i) for i in range(size)]
    packed = [failed(FRIDAY_NOON + timedelta(seconds=i)) for i in range(size)]

    assert find_anomalies(spread, POLICY) == []
    assert {(a["per"], a["count"]) for a in find_anomalies(packed, POLICY)} == {
        ("account", size), ("address", size)}


def test_reading_exactly_the_threshold_is_allowed() -> None:
    limit = POLICY.audit.customers_read_per_hour
    reads = [entry(FRIDAY_NOON, targets=[f"c{i}"]) for i in range(limit)]
    assert find_anomalies(reads, POLICY) == []
    assert [a["count"] for a in find_anomalies(
        [*reads, entry(FRIDAY_NOON, targets=["one-more"])], POLICY)] == [limit + 1]


def test_a_public_holiday_is_outside_working_hours() -> None:
    national_day = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)  # a Thursday, 12:00 in Shanghai
    found = find_anomalies([entry(national_day), entry(FRIDAY_NOON)], POLICY)
    assert [(a["kind"], a["at"][:10]) for a in found] == [("outside_working_hours",
                                                           "2026-10-01")]

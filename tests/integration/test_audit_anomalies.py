"""``audit anomalies`` (AU-4) on SQLite and PostgreSQL, with a fixed clock: each kind of
anomaly is found in its time range, by the thresholds of the policy file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from commands.accounts import LockRole
from ledger.credentials import AuthenticationError
from projections.anomalies import AuditAnomalies
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from tests.accounts import ADMIN, grant, open_account
from tests.conftest import FixedClock
from tests.factories import make_profile
from tests.privacy_support import AUDITOR, ask, register

FAST_HASHING = Path(__file__).resolve().parents[1] / "fast_hashing_policy.toml"


@pytest.fixture
def audited(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> Ledger:
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_HASHING.read_text(encoding="utf-8") + (
        "\n[audit]\nfailed_login_burst = 3\nfailed_login_window_minutes = 10\n"
        "customers_read_per_hour = 2\n"), encoding="utf-8")
    return make_ledger(database_url, policy_file=policy)


def anomalies(ledger: Ledger, since: datetime, until: datetime) -> list[dict[str, Any]]:
    ledger.runner.catch_up()
    found: list[dict[str, Any]] = ledger.bus.ask(AuditAnomalies(since=since, until=until),
                                                 AUDITOR)["anomalies"]
    return found


def kinds(found: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["kind"], a["subject"]) for a in found}


def test_failed_login_bursts_are_found_per_account_and_per_address(
        audited: Ledger, clock: FixedClock) -> None:
    open_account(audited, "li.na", "sales")
    start = clock.now
    for _ in range(3):
        clock.now += timedelta(minutes=4)
        with pytest.raises(AuthenticationError):
            audited.access.identity.login("li.na", "Wrong-Pass#0000", client_address="127.0.0.7")

    found = anomalies(audited, start, clock.now)

    bursts = [a for a in found if a["kind"] == "failed_login_burst"]
    assert {(a["per"], a["subject"], a["count"]) for a in bursts} == {
        ("account", "li.na", 3), ("address", "127.0.0.7", 3)}
    assert anomalies(audited, start + timedelta(minutes=5), clock.now) == []


def test_an_account_reading_more_customers_than_the_threshold_in_an_hour_is_found(
        audited: Ledger, clock: FixedClock) -> None:
    reader = open_account(audited, "li.na", "sales")
    ids = [register(audited, make_profile(seed=seed)) for seed in range(3)]
    start = clock.now
    for customer_id in ids[:2]:
        ask(audited, GetCustomer(customer_id=UUID(customer_id)), reader)
    assert "many_customers_read" not in {a["kind"] for a in anomalies(audited, start, clock.now)}

    ask(audited, GetCustomer(customer_id=UUID(ids[2])), reader)

    heavy = [a for a in anomalies(audited, start, clock.now) if a["kind"] == "many_customers_read"]
    assert [(a["subject"], a["count"], a["threshold"]) for a in heavy] == [("li.na", 3, 2)]


def test_access_outside_working_hours_is_found(audited: Ledger, clock: FixedClock) -> None:
    reader = open_account(audited, "li.na", "sales")
    customer_id = register(audited, make_profile(seed=1))
    start = clock.now  # Friday 11:00 in Shanghai: on duty
    ask(audited, GetCustomer(customer_id=UUID(customer_id)), reader)
    assert anomalies(audited, start, clock.now) == []

    clock.now += timedelta(hours=11)  # Friday 22:00
    ask(audited, GetCustomer(customer_id=UUID(customer_id)), reader)
    clock.now += timedelta(hours=12)  # Saturday 10:00
    ask(audited, GetCustomer(customer_id=UUID(customer_id)), reader)

    late = [a for a in anomalies(audited, start, clock.now) if a["kind"] == "outside_working_hours"]
    assert [(a["subject"], a["operation"], a["at"][:16]) for a in late] == [
        ("li.na", "get-customer", "2026-11-27T22:00"), ("li.na", "get-customer",
                                                        "2026-11-28T10:00")]


def test_privilege_grants_and_incident_locks_are_found(audited: Ledger, clock: FixedClock
                                                       ) -> None:
    open_account(audited, "li.na", "sales")
    start = clock.now + timedelta(seconds=1)
    clock.now = start
    grant(audited, "li.na", "auditor")
    audited.bus.execute(LockRole(role="sales"), ADMIN)

    found = anomalies(audited, start, clock.now)

    grants = [(a["subject"], a["role"], a["step"]) for a in found
              if a["kind"] == "privilege_grant"]
    assert grants == [("li.na", "auditor", "requested"), ("li.na", "auditor", "approved")]
    locks = [(a["subject"], a["by"]) for a in found if a["kind"] == "incident_lock"]
    assert locks == [("li.na", ADMIN.id)]

"""Alerts that reach people (FT-2), on SQLite and PostgreSQL: a real HTTP receiver on a free
loopback port gets Alertmanager's v4 payloads, firing and resolved; a stalled projection
(its runner stopped while commands go on) and an integrity failure injected by direct SQL
each fire their rule and open a fault linked to the alert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from commands.customers import RegisterCustomer
from ledger.domain.faults import Fault
from projections.faults import ListFaults
from service.bootstrap import Ledger
from tests.conftest import FixedClock
from tests.factories import make_profile
from tests.integration.tampering import RawEvents
from tests.privacy_support import CLERK, SYSADMIN
from tests.webhook_receiver import Receiver, webhook_receiver

FAST_HASHING = Path(__file__).resolve().parents[1] / "fast_hashing_policy.toml"
RULES = ("\n[alerts]\nprojection_lag_events = 0\nprojection_stalled_seconds = 60\n"
         "integrity_check_every_seconds = {integrity}\naudit_silence_seconds = 0\n"
         "repeat_every_seconds = 3600\nwebhook_attempts = 2\nwebhook_timeout_seconds = 2\n")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def _alerting(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
              receiver: Receiver, integrity: int = 0) -> Ledger:
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_HASHING.read_text(encoding="utf-8")
                      + RULES.format(integrity=integrity), encoding="utf-8")
    return make_ledger(database_url, policy_file=policy, alert_webhook_urls=receiver.url,
                       external_url="https://ledger.example")


def register(ledger: Ledger, seed: int) -> None:
    ledger.bus.execute(RegisterCustomer(profile=make_profile(seed=seed)), CLERK)


def faults_opened(ledger: Ledger, alert: str) -> list[Any]:
    """The faults the alert opened, read from the event store (the read models may be the
    very thing that is stalled)."""
    found = []
    for firing in ledger.alerts.state.firing.values():
        if firing.alert.name == alert and firing.fault_id is not None:
            found.append(ledger.store.repository.get(firing.fault_id))
    return found


def test_a_stalled_projection_fires_opens_a_fault_and_resolves_when_it_catches_up(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
        receiver: Receiver, clock: FixedClock) -> None:
    ledger = _alerting(make_ledger, database_url, tmp_path, receiver)
    register(ledger, 1)
    ledger.runner.catch_up()
    ledger.alerts.run_once()
    assert receiver.names("firing") == {"Watchdog"}
    assert faults_opened(ledger, "Watchdog") == []  # it always fires: no fault (README)

    # The runner is stopped (the test drives it) while commands go on.
    register(ledger, 2)
    ledger.alerts.run_once()
    clock.now += timedelta(seconds=61)
    register(ledger, 3)
    ledger.alerts.run_once()

    stalled = [a for a in receiver.alerts("firing")
               if a["labels"]["alertname"] == "ProjectionStalled"]
    assert len(stalled) == 1
    body = next(b for b in receiver.bodies if stalled[0] in b["alerts"])
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["externalURL"] == "https://ledger.example"
    assert {"receiver", "groupKey", "groupLabels", "commonLabels", "commonAnnotations",
            "truncatedAlerts"} <= set(body)
    assert stalled[0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert stalled[0]["labels"]["severity"] == "critical"
    assert "customer_view" in stalled[0]["annotations"]["summary"]
    [fault] = faults_opened(ledger, "ProjectionStalled")
    assert isinstance(fault, Fault) and fault.severity.value == "complex"

    ledger.runner.catch_up()
    ledger.alerts.run_once()
    [resolved] = receiver.alerts("resolved")
    assert resolved["labels"]["alertname"] == "ProjectionStalled"
    assert resolved["fingerprint"] == stalled[0]["fingerprint"]
    assert resolved["endsAt"] != "0001-01-01T00:00:00Z"
    ledger.runner.catch_up()
    [listed] = [fault for fault in ledger.bus.ask(ListFaults(status="all"), SYSADMIN)["faults"]
                if fault["alert"] == "ProjectionStalled"]
    assert listed["actions"][0]["action"] == "alert ProjectionStalled resolved"
    assert listed["status"] == "reported"  # a person resolves the fault, not the alert
    with ledger.views.snapshot() as cursor:
        trail = cursor.all("SELECT operation FROM audit_trail WHERE actor = 'system:alerts'"
                           " ORDER BY position")
    assert [row[0] for row in trail] == ["Fault.Reported", "report-fault",
                                         "Fault.ActionRecorded", "record-fault-action"]


def test_an_integrity_failure_injected_by_direct_sql_fires_its_alert(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
        receiver: Receiver, clock: FixedClock) -> None:
    ledger = _alerting(make_ledger, database_url, tmp_path, receiver, integrity=1)
    register(ledger, 1)
    register(ledger, 2)
    ledger.runner.catch_up()
    ledger.sealer.seal_all(force_checkpoint=True)
    ledger.alerts.run_once()
    assert receiver.names("firing") == {"Watchdog"}
    failures_before = ledger.metrics.operations.total(
        ledger.metrics.operations.integrity_failures)

    raw = RawEvents(database_url)
    try:
        raw.flip_byte(raw.positions()[0])
    finally:
        raw.close()
    clock.now += timedelta(seconds=2)  # the next integrity check is due
    ledger.alerts.run_once()

    assert "IntegrityCheckFailed" in receiver.names("firing")
    assert faults_opened(ledger, "IntegrityCheckFailed")
    assert ledger.metrics.operations.total(
        ledger.metrics.operations.integrity_failures) == failures_before + 1


def test_a_webhook_that_fails_is_tried_again_and_a_dead_one_is_reported(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
        receiver: Receiver) -> None:
    ledger = _alerting(make_ledger, database_url, tmp_path, receiver)
    receiver.answers = [503]
    ledger.alerts.run_once()
    assert len(receiver.bodies) == 2  # the 503, then the accepted retry
    [delivery] = ledger.alerts.state.deliveries
    assert delivery.delivered and delivery.attempts == 2

"""The fault and incident register (FT-3, IR-1) on SQLite and PostgreSQL: a fault's whole
handling as events, its repair deadline in working hours, overdue ones listed against a
fixed clock; bad input writes nothing; an incident's one-step lock is linked to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from commands.faults import (
    AcknowledgeFault,
    CloseIncident,
    LockForIncident,
    RecordFaultAction,
    RecordIncidentStep,
    ReportFault,
    ReportIncident,
    ResolveFault,
)
from ledger.domain.account import AccountStatus
from ledger.domain.errors import NotFoundError, ValidationFailedError, WorkflowViolationError
from ledger.domain.faults import Fault
from projections.faults import ListFaults, ListIncidents
from service.bootstrap import Ledger
from tests.accounts import open_account
from tests.conftest import FixedClock
from tests.privacy_support import SYSADMIN
from tests.store_snapshot import store_unchanged

# The shared FixedClock stands at Friday 27 November 2026, 11:00 in Shanghai.
STARTED = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)


def report(ledger: Ledger, severity: str = "general") -> dict[str, Any]:
    outcome: dict[str, Any] = ledger.bus.execute(ReportFault(
        symptom="customer search answers in 12 s", started_at=STARTED,
        impact="sales cannot find customers", severity=severity), SYSADMIN)
    return outcome


def faults(ledger: Ledger, status: str = "open") -> list[dict[str, Any]]:
    ledger.runner.catch_up()
    found: list[dict[str, Any]] = ledger.bus.ask(ListFaults(status=status), SYSADMIN)["faults"]
    return found


def test_a_fault_is_reported_acknowledged_acted_on_and_resolved(ledger: Ledger) -> None:
    fault_id = report(ledger)["result"]["fault_id"]
    ledger.bus.execute(AcknowledgeFault(fault_id=fault_id), SYSADMIN)
    ledger.bus.execute(RecordFaultAction(fault_id=fault_id, action="rebuilt the search index"),
                       SYSADMIN)
    ledger.bus.execute(ResolveFault(fault_id=fault_id, resolution="index rebuilt",
                                    evidence="search answers in 40 ms"), SYSADMIN)

    [fault] = faults(ledger, "all")
    assert fault["status"] == "resolved" and fault["resolution"] == "index rebuilt"
    assert [a["action"] for a in fault["actions"]] == ["rebuilt the search index"]
    assert fault["reported_by"] == SYSADMIN.id
    assert faults(ledger) == []
    stored = ledger.store.repository.get(UUID(fault["fault_id"]))
    assert isinstance(stored, Fault) and stored.version == 4


def test_a_general_fault_is_due_four_working_hours_after_its_report_and_then_overdue(
        ledger: Ledger, clock: FixedClock) -> None:
    outcome = report(ledger)
    # Reported Friday 11:00 in Shanghai: due 15:00 the same day (07:00 UTC).
    assert outcome["result"]["due_by"] == "2026-11-27T07:00:00+00:00"
    complex_fault = report(ledger, "complex")["result"]["fault_id"]
    assert faults(ledger, "overdue") == []

    clock.now += timedelta(hours=4, minutes=1)
    [overdue] = faults(ledger, "overdue")
    assert overdue["fault_id"] == outcome["result"]["fault_id"] and overdue["overdue"]
    assert {f["fault_id"]: f["overdue"] for f in faults(ledger)}[complex_fault] is False
    assert ledger.alerts.faults.count_overdue() == 1
    assert "FaultOverdue" in {alert.name for alert in ledger.alerts.evaluate()}


def test_a_fault_report_past_closing_time_is_due_on_the_next_working_day(
        ledger: Ledger, clock: FixedClock) -> None:
    clock.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 18:00 in Shanghai
    assert report(ledger)["result"]["due_by"] == "2026-11-30T03:00:00+00:00"  # Mon 11:00


@pytest.mark.parametrize("fields", [
    {"symptom": "", "impact": "none", "started_at": "2026-11-27T10:00:00+08:00"},
    {"symptom": "slow", "impact": "none", "started_at": "2026-11-27T10:00:00"},
    {"symptom": "slow", "impact": "none", "started_at": "2026-11-27T10:00:00+08:00",
     "severity": "urgent"},
    {"symptom": "slow", "impact": "none", "started_at": "2026-11-28T10:00:00+08:00"},
])
def test_a_bad_fault_report_is_refused_and_writes_nothing(ledger: Ledger,
                                                          fields: dict[str, Any]) -> None:
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError):
        ledger.bus.execute_named("report-fault", fields, SYSADMIN)


def test_an_incident_detected_in_the_future_is_refused_and_writes_nothing(
        ledger: Ledger) -> None:
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError):
        ledger.bus.execute_named("report-incident", {
            "kind": "attack", "summary": "spraying",
            "detected_at": "9999-12-31T23:00:00+00:00"}, SYSADMIN)


def test_a_resolved_fault_takes_no_more_steps_and_an_unknown_one_is_not_found(
        ledger: Ledger) -> None:
    fault_id = report(ledger)["result"]["fault_id"]
    ledger.bus.execute(ResolveFault(fault_id=fault_id, resolution="restarted"), SYSADMIN)
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError):
        ledger.bus.execute(RecordFaultAction(fault_id=fault_id, action="again"), SYSADMIN)
    with store_unchanged(ledger.store), pytest.raises(NotFoundError):
        ledger.bus.execute(AcknowledgeFault(fault_id="5f0c3c4e-0000-4000-8000-000000000000"),
                           SYSADMIN)


def test_the_one_step_lock_is_taken_from_the_incident_and_linked_to_it(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "wang.wei", "sales")
    open_account(ledger, "zhao.lei", "finance")
    incident_id = ledger.bus.execute(ReportIncident(
        kind="attack", summary="password spraying from one address",
        detected_at=STARTED), SYSADMIN)["result"]["incident_id"]
    ledger.bus.execute(RecordIncidentStep(incident_id=incident_id,
                                          step="blocked the address at the firewall"),
                       SYSADMIN)
    by_role = ledger.bus.execute(LockForIncident(incident_id=incident_id, role="sales"),
                                 SYSADMIN)
    by_account = ledger.bus.execute(LockForIncident(incident_id=incident_id,
                                                    username="zhao.lei"), SYSADMIN)
    ledger.bus.execute(CloseIncident(incident_id=incident_id, resolution="contained"),
                       SYSADMIN)

    assert sorted(by_role["result"]["locked"]) == ["li.na", "wang.wei"]
    assert by_role["aggregate_id"] == by_account["aggregate_id"] == incident_id
    for username in ("li.na", "wang.wei", "zhao.lei"):
        account = ledger.access.identity.account(username)
        assert account is not None and account.status is AccountStatus.LOCKED
    ledger.runner.catch_up()
    [incident] = ledger.bus.ask(ListIncidents(), SYSADMIN)["incidents"]
    assert incident["closed"] and incident["kind"] == "attack"
    assert [step["step"] for step in incident["steps"]] == [
        "blocked the address at the firewall", "lock", "lock"]
    assert incident["steps"][1]["target"] == "role:sales"
    assert incident["steps"][2] | {"at": None} == {
        "step": "lock", "target": "zhao.lei", "locked": ["zhao.lei"], "by": SYSADMIN.id,
        "at": None}


def test_a_lock_names_exactly_one_target_and_a_closed_incident_takes_none(
        ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    incident_id = ledger.bus.execute(ReportIncident(
        kind="data_leak", summary="an export file found outside", detected_at=STARTED),
        SYSADMIN)["result"]["incident_id"]
    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError):
        ledger.bus.execute_named("lock-for-incident", {"incident_id": incident_id,
                                                       "username": "li.na", "role": "sales"},
                                 SYSADMIN)
    ledger.bus.execute(CloseIncident(incident_id=incident_id, resolution="false alarm"),
                       SYSADMIN)
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError):
        ledger.bus.execute(LockForIncident(incident_id=incident_id, username="li.na"),
                           SYSADMIN)

"""The alert rules (FT-2) on figures given by hand: each rule fires on its threshold and not
below it, the Watchdog always fires, and the texts carry no value beyond names and counts."""

from __future__ import annotations

from dataclasses import replace

from ledger.policy_operations import AlertsPolicy
from service.alerts import WATCHDOG, Alert, RuleInputs, evaluate, webhook_payload

NOW = 1_800_000_000.0
QUIET = RuleInputs(head_position=100, projection_positions={"customer_view": 100},
                   projection_last_progress={"customer_view": NOW - 3600}, sealing_lag=0,
                   audit_last_write=NOW - 60, integrity_failed=False,
                   failed_logins_in_window=0, lockouts_in_window=0, overdue_faults=0,
                   backups={}, now=NOW)
RULES = AlertsPolicy(projection_lag_events=50, projection_stalled_seconds=120,
                     sealing_lag_records=10, failed_logins_per_window=5,
                     lockouts_per_window=2, audit_silence_seconds=600)


def names(inputs: RuleInputs, rules: AlertsPolicy = RULES) -> set[str]:
    return {alert.name for alert in evaluate(rules, inputs)}


def test_a_quiet_ledger_fires_only_the_watchdog() -> None:
    assert names(QUIET) == {WATCHDOG}


def test_a_read_model_behind_the_head_lags_and_one_that_stopped_stalls() -> None:
    behind = replace(QUIET, head_position=151)
    assert names(behind) == {WATCHDOG, "ProjectionLagging", "ProjectionStalled"}
    # Moving, even if behind: no stall.
    moving = replace(behind, projection_last_progress={"customer_view": NOW - 5})
    assert names(moving) == {WATCHDOG, "ProjectionLagging"}
    # Caught up: a read model that has not moved for an hour is simply idle.
    assert names(replace(QUIET, head_position=100)) == {WATCHDOG}


def test_each_other_rule_fires_at_its_threshold() -> None:
    assert "SealingLagging" in names(replace(QUIET, sealing_lag=11))
    assert "SealingLagging" not in names(replace(QUIET, sealing_lag=10))
    assert "IntegrityCheckFailed" in names(replace(QUIET, integrity_failed=True))
    assert "FailedLoginBurst" in names(replace(QUIET, failed_logins_in_window=5))
    assert "FailedLoginBurst" not in names(replace(QUIET, failed_logins_in_window=4))
    assert "LockoutBurst" in names(replace(QUIET, lockouts_in_window=2))
    assert "AuditWritesStopped" in names(replace(QUIET, audit_last_write=NOW - 601))
    assert "FaultOverdue" in names(replace(QUIET, overdue_faults=1))
    backups = replace(QUIET, backups={"full": (True, False), "keys": (False, True)})
    alerts = {(a.name, a.labels.get("kind")) for a in evaluate(RULES, backups)}
    assert {("BackupFailed", "full"), ("BackupOverdue", "keys")} <= alerts


def test_a_threshold_of_zero_turns_its_rule_off() -> None:
    off = AlertsPolicy(projection_lag_events=0, projection_stalled_seconds=0,
                       sealing_lag_records=0, failed_logins_per_window=0,
                       lockouts_per_window=0, audit_silence_seconds=0)
    loud = replace(QUIET, head_position=10_000, sealing_lag=10_000,
                   failed_logins_in_window=1000, lockouts_in_window=1000, audit_last_write=0)
    assert names(loud, off) == {WATCHDOG}


def test_the_webhook_payload_has_alertmanagers_version_4_shape() -> None:
    alert = Alert("BackupFailed", "critical", "The full backup failed.", {"kind": "full"})
    body = webhook_payload([(alert, NOW, NOW + 60)], "resolved", "https://ledger.example")
    assert body["version"] == "4" and body["status"] == "resolved"
    [entry] = body["alerts"]
    assert entry["labels"] == {"alertname": "BackupFailed", "severity": "critical",
                               "service": "ledger", "kind": "full"}
    assert entry["startsAt"] == "2027-01-15T08:00:00.000000Z"
    assert entry["endsAt"] == "2027-01-15T08:01:00.000000Z"
    assert entry["fingerprint"] == alert.fingerprint
    assert entry["generatorURL"] == "https://ledger.example"

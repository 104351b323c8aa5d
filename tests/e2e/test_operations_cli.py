"""``ledger metrics``, ``ledger alerts test``, ``ledger fault ...`` and ``ledger incident
...`` as an operator runs them: the real executable on a SQLite file, and a real webhook
receiver on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.alerts import webhook_label
from tests.e2e.conftest import free_port
from tests.e2e.test_cli import Cli
from tests.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.e2e


def test_faults_and_incidents_from_the_command_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    cli.json("account", "create", "li.na", "--employee-id", "E-1", "--department", "sales",
             "--role", "sales")
    # An administration command acts as the local administrator whatever --actor says.
    reported = cli.json("--actor", "li.na", "fault", "report", "--symptom", "exports time out",
                        "--impact", "finance cannot export", "--severity", "complex",
                        "--started-at", "2026-11-27T09:00:00+08:00")
    fault_id = reported["result"]["fault_id"]
    cli.json("fault", "action", fault_id, "raised the export timeout")
    [listed] = cli.json("fault", "list")["faults"]
    assert listed["fault_id"] == fault_id and listed["severity"] == "complex"
    assert listed["reported_by"].startswith("local-admin:")
    assert listed["actions"][0]["action"] == "raised the export timeout"
    assert cli.json("fault", "list", "--overdue")["faults"] == []

    incident = cli.json("incident", "report", "--kind", "attack",
                        "--summary", "password spraying")["result"]["incident_id"]
    locked = cli.json("incident", "lock", incident, "--role", "sales")
    assert locked["result"]["locked"] == ["li.na"]
    refused = cli("incident", "lock", incident)
    assert refused.returncode == 3 and "give either username or role" in refused.stderr

    rows = cli.json("metrics")
    heads = [row["value"] for row in rows if row["metric"] == "ledger_head_position"]
    assert heads and heads[0] > 0


def test_alerts_test_reports_each_webhooks_answer(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with webhook_receiver() as receiver:
        [answer] = cli.json("alerts", "test", LEDGER_ALERT_WEBHOOK_URLS=receiver.url)
        assert answer == {"webhook": webhook_label(receiver.url), "status_code": 200,
                          "attempts": 1, "error": None, "delivered": True}
        assert receiver.names("firing") == {"LedgerTestAlert"}
        assert receiver.bodies[0]["version"] == "4"

        dead = f"http://127.0.0.1:{free_port()}/nobody"
        failed = cli("alerts", "test", LEDGER_ALERT_WEBHOOK_URLS=f"{receiver.url},{dead}")
    assert failed.returncode == 76 and "alert_not_delivered" in failed.stderr
    assert "/nobody" not in failed.stdout + failed.stderr  # by its host, not its address
    assert webhook_label(dead) in failed.stderr
    assert cli("alerts", "test").returncode == 3  # no webhook configured

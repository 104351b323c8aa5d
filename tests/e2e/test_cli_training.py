"""Training on the command line (TR-1..TR-3): the real executable, as the local
administrator, records training and assessments, refuses bad ones writing nothing, and
prints the reports."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from ledger.domain.errors import ValidationFailedError, WorkflowViolationError
from tests.e2e.test_cli import Cli

pytestmark = pytest.mark.e2e

# A few days back, so the real clock's "today" in the policy's time zone is never before it.
DAY = (date.today() - timedelta(days=3)).isoformat()


def test_training_and_assessments_are_recorded_refused_and_reported(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.json("init")
    cli.json("account", "create", "li.na", "--employee-id", "E1", "--department", "sales")
    trained = cli.json("training", "record", "li.na", "customer-data-handling", "--version",
                       "1", "--on", DAY, "--trainer", "Wang Fang", "--method", "classroom")
    assert trained["command"] == "record-training"
    before = cli.stored_events()

    too_high = cli("training", "assess", "li.na", "customer-data-handling", "101", "--on", DAY)
    yourself = cli("training", "assess", "li.na", "customer-data-handling", "90", "--on", DAY,
                   "--assessor", "li.na")

    assert too_high.returncode == ValidationFailedError.exit_code
    assert [p["field"] for p in json.loads(too_high.stdout or too_high.stderr)["error"][
        "details"]["problems"]] == ["score"]
    assert yourself.returncode == WorkflowViolationError.exit_code
    assert cli.stored_events() == before

    passed = cli.json("training", "assess", "li.na", "customer-data-handling", "88",
                      "--on", DAY)
    assert passed["result"]["passed"] is True
    granted = cli.json("account", "grant", "li.na", "sales")
    assert granted["result"]["assessment"]["assessment_id"] == passed["result"][
        "assessment_id"]

    shown = cli("training", "pass-rates", machine=False)
    assert shown.returncode == 0, shown.stderr
    assert "customer-data-handling" in shown.stdout and "100%" in shown.stdout

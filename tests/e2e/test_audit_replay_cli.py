"""``ledger audit history | as-of | trail | anomalies`` as an auditor drives them: the real
executable on a SQLite file, as a Rich table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import Cli, register, staffed, words

pytestmark = pytest.mark.e2e

# li.na (sales and info_specialist) is given the auditor's read-only queries by the policy
# file, as an organisation would give them to its auditors.
AUDIT_READS = ('[access.permissions]\nsales = ["get-customer", "customer-history", '
               '"customer-as-of", "audit-trail", "audit-anomalies"]\n')
SOMETIME = "2100-01-01T00:00:00+00:00"
LONG_AGO = "2000-01-01T00:00:00+00:00"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


@pytest.fixture
def policy(cli: Cli) -> dict[str, str]:
    path = Path(cli.workdir) / "audit-policy.toml"
    path.write_text(AUDIT_READS, encoding="utf-8")
    return {"LEDGER_POLICY_FILE": str(path)}


def test_history_and_as_of_replay_a_customer(cli: Cli, policy: dict[str, str]) -> None:
    customer_id = register(cli, basic__email="li@mingyuan.cn")

    history = cli.json("audit", "history", customer_id, **policy)
    state = cli.json("audit", "as-of", customer_id, SOMETIME, **policy)
    table = cli("audit", "as-of", customer_id, SOMETIME, machine=False, **policy)
    before = cli("audit", "as-of", customer_id, LONG_AGO, **policy)

    assert [e["event"] for e in history["events"]] == ["Registered"]
    assert state["customer"]["version"] == 1
    assert state["customer"]["profile"]["basic"]["email"] == "li@mingyuan.cn"
    assert table.returncode == 0 and "basic.email" in words(table.stdout)
    assert before.returncode != 0 and "not registered yet" in before.stderr


def test_the_trail_prints_csv_and_json_and_anomalies_a_table(
        cli: Cli, policy: dict[str, str]) -> None:
    customer_id = register(cli)
    cli.json("customer", "show", customer_id)

    rows = list(csv.DictReader(io.StringIO(cli(
        "audit", "trail", "--customer", customer_id, "--csv", machine=False, **policy).stdout)))
    as_json = json.loads(cli("audit", "trail", "--actor", "li.na", "--operation",
                             "get-customer", "--json", machine=False, **policy).stdout)
    anomalies = cli("audit", "anomalies", "--since", LONG_AGO, "--until", SOMETIME,
                    machine=False, **policy)

    assert [(r["kind"], r["operation"]) for r in rows] == [
        ("event", "Customer.Registered"), ("command", "register-customer"),
        ("read", "get-customer")]
    assert [e["targets"] for e in as_json["entries"]] == [[customer_id]]
    assert anomalies.returncode == 0, anomalies.stderr
    assert "row(s)" in anomalies.stdout


def test_history_as_of_and_anomalies_print_csv_too(cli: Cli, policy: dict[str, str]) -> None:
    customer_id = register(cli)

    def csv_rows(*args: str) -> list[dict[str, str]]:
        done = cli("audit", *args, "--csv", machine=False, **policy)
        assert done.returncode == 0, done.stderr
        return list(csv.DictReader(io.StringIO(done.stdout)))

    history = csv_rows("history", customer_id)
    state = csv_rows("as-of", customer_id, SOMETIME)
    anomalies = csv_rows("anomalies", "--since", LONG_AGO, "--until", SOMETIME)

    assert [row["event"] for row in history] == ["Registered"]
    assert {"field": "version", "value": "1"} in state
    assert all(set(row) == {"kind", "subject", "details"} for row in anomalies)

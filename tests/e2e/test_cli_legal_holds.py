"""``ledger hold ...`` as a user drives it (DL-5): the command line on a SQLite file. A
hold keeps an approved deletion from execution, the refusal names the hold and writes only
its audit record, the placer cannot lift it, a second head of information management can,
and then the deletion goes ahead with a certificate that states no hold was in force."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ledger.domain.errors import WorkflowViolationError
from service.cli import app
from tests.conftest import FAST_HASHING_POLICY
from tests.factories import make_profile

pytestmark = pytest.mark.e2e


@dataclass
class Cli:
    """Runs ``ledger --json`` in this process (no interpreter start per command) against one
    SQLite file, as the account ``actor``."""

    workdir: Path

    def __call__(self, *args: str, actor: str = "admin", machine: bool = True,
                 login: str = "ops.zhang") -> Result:
        database = f"sqlite:///{self.workdir / 'ledger.sqlite3'}"
        return CliRunner().invoke(app, [*(["--json"] if machine else []), *args], env={
            "LEDGER_DATABASE_URL": database, "LEDGER_DATA_DIR": str(self.workdir / "var"),
            "LEDGER_POLICY_FILE": str(FAST_HASHING_POLICY), "LEDGER_ACTOR": actor,
            "LOGNAME": login})

    def json(self, *args: str, actor: str = "admin", login: str = "ops.zhang") -> Any:
        done = self(*args, actor=actor, login=login)
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout)

    def stored_events(self) -> int:
        with closing(sqlite3.connect(self.workdir / "ledger.sqlite3")) as db:
            count: int = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
            return count


def register(cli: Cli) -> str:
    (cli.workdir / "profile.json").write_text(json.dumps(make_profile(seed=7)),
                                              encoding="utf-8")
    customer_id: str = cli.json("customer", "register", str(cli.workdir / "profile.json"),
                                actor="li.na")["aggregate_id"]
    return customer_id

STAFF = {"li.na": ("sales", "sales"), "zhou.min": ("sales", "department_head"),
         "sun.li": ("info", "info_mgmt_head"), "he.ping": ("info", "info_mgmt_head"),
         "ops.wu": ("it", "sysadmin")}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path)
    runner.json("init")
    for username, (department, role) in STAFF.items():
        runner.json("account", "create", username, "--employee-id", f"E-{username}",
                    "--department", department, "--role", role,
                    "--password", "Initial-Pass#2041")
    for username in ("sun.li", "he.ping", "ops.wu"):  # high privilege: a second person
        runner.json("account", "approve-grant", username, STAFF[username][1], login="ops.li")
    return runner


def test_a_hold_blocks_the_execution_until_a_second_person_lifts_it(cli: Cli) -> None:
    customer_id = register(cli)
    hold_id = cli.json("hold", "place", customer_id, "--reason", "诉讼保全 证据须保存",
                       "--reference", "(2026)沪0115民初4711号", actor="sun.li")["result"]["hold_id"]
    shown = cli("customer", "show", customer_id, actor="sun.li", machine=False)
    [held] = [line for line in shown.stdout.splitlines() if "legal hold" in line]
    assert hold_id in held and "until lifted" in held and "(2026)沪0115民初4711号" in held
    request_id = cli.json("deletion", "request", customer_id, "--ground", "relationship_ended",
                          "--details", "contract ended", "--department", "sales",
                          actor="li.na")["aggregate_id"]
    for actor, step in (("zhou.min", "review"), ("sun.li", "approve")):
        cli.json("deletion", step, request_id, actor=actor)
    before = cli.stored_events()

    refused = cli("deletion", "execute", request_id, actor="ops.wu")

    assert refused.exit_code == WorkflowViolationError.exit_code, refused.output
    error = json.loads(refused.stderr)["error"]
    assert (error["code"], error["details"]["hold_id"]) == ("workflow_violation", hold_id)
    assert cli.stored_events() == before + 1  # the refusal's audit record, nothing else
    held = cli.json("deletion", "list", "--stage", "held", actor="sun.li")["deletions"]
    assert [(d["request_id"], d["held_by"]) for d in held] == [(request_id, [hold_id])]
    [hold] = cli.json("hold", "review", actor="sun.li")["holds"]
    assert (hold["hold_id"], hold["reason"], hold["blocks"]) == (
        hold_id, "诉讼保全 证据须保存", [request_id])

    by_placer = cli("hold", "lift", customer_id, hold_id, actor="sun.li")
    assert by_placer.exit_code == WorkflowViolationError.exit_code
    cli.json("hold", "lift", customer_id, hold_id, actor="he.ping")
    cli.json("deletion", "execute", request_id, actor="ops.wu")

    certificate = cli.json("deletion", "certificate", request_id, actor="sun.li")
    assert certificate["legal_hold"]["in_force_at_execution"] is False
    shown = cli("hold", "review", "--status", "all", actor="sun.li", machine=False)
    assert shown.exit_code == 0 and "lifted by he.ping" in " ".join(shown.stdout.split())

"""The ``ledger`` command line as a user drives it: the real executable, a SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from ledger.credentials import AuthenticationError
from ledger.domain.errors import (
    ConflictError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
    WorkflowViolationError,
)
from service.cli import app
from service.preflight import PathUnusableError
from tests.e2e.conftest import CLI_TIMEOUT, PASSWORD, QUICK_HASHING, RunningServer, ledger_env
from tests.e2e.forked import run_ledger
from tests.factories import make_profile

pytestmark = pytest.mark.e2e


@dataclass
class Cli:
    """Runs ``ledger`` in a working directory against one SQLite file."""

    workdir: Path

    @property
    def database(self) -> Path:
        return self.workdir / "ledger.sqlite3"

    def __call__(self, *args: str, actor: str = "li.na", machine: bool = True,
                 **env: str) -> subprocess.CompletedProcess[str]:
        return run_ledger([*(["--json"] if machine else []), *args], cwd=self.workdir,
                          timeout=CLI_TIMEOUT, env=ledger_env(f"sqlite:///{self.database}",
                                                              LEDGER_ACTOR=actor, **env))

    def json(self, *args: str, **options: Any) -> Any:
        done = self(*args, **options)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def write(self, name: str, data: Any) -> str:
        (self.workdir / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return name

    def stored_events(self) -> int:
        with closing(sqlite3.connect(self.database)) as db:
            count: int = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
            return count

    def view_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        with closing(sqlite3.connect(self.database)) as db:
            return {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall())
                    for table in ("customer_view", "pending_proposals", "key_changes")}


def words(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare text with whitespace collapsed."""
    return " ".join(text.split())


# The staff the scenarios act as: li.na registers and proposes (and, as a specialist too,
# may verify, so verifying her own proposal is a workflow refusal); wang.fang verifies.
STAFF = {"li.na": ["sales", "info_specialist"], "wang.fang": ["info_specialist"]}


def staffed(runner: Cli) -> Cli:
    initialised = runner.json("init", **QUICK_HASHING)
    assert initialised["first_administrator"]["username"] == "admin"
    for username, roles in STAFF.items():
        runner.json("account", "create", username, "--employee-id", f"E-{username}",
                    "--department", "sales",
                    *(arg for role in roles for arg in ("--role", role)), **QUICK_HASHING)
    return runner


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return staffed(Cli(tmp_path))


def register(cli: Cli, **overrides: Any) -> str:
    profile = make_profile(seed=7, **overrides)
    outcome = cli.json("customer", "register", cli.write("profile.json", profile))
    customer_id: str = outcome["aggregate_id"]
    return customer_id


def propose(cli: Cli, customer_id: str, *sets: str) -> str:
    outcome = cli.json("change", "propose", customer_id, "--happened-on", "2024-03-01",
                       *(arg for item in sets for arg in ("--set", item)))
    proposal_id: str = outcome["result"]["proposal_id"]
    return proposal_id


def test_a_user_registers_a_customer_and_takes_a_change_through_verification(cli: Cli) -> None:
    profile = make_profile(basic__name="  Ming Yuan   Trading Co. ", basic__email="li@mingyuan.cn")
    registered = cli.json("customer", "register", cli.write("new.json", profile),
                          "--reason", "met at trade show")
    customer_id = registered["aggregate_id"]
    assert cli.json("customer", "find", "ming yuan")["customers"][0]["name"] == (
        "Ming Yuan Trading Co.")

    proposed = cli.json("change", "propose", customer_id, "--happened-on", "2024-03-01",
                        "--set", "basic.email=Sales@MingYuan.CN",
                        "--set-json", 'contacts=[{"name": "王芳", "phone": "+8613800138000"}]')
    proposal_id = proposed["result"]["proposal_id"]
    pending = cli.json("change", "pending", "--customer", customer_id)["proposals"]
    assert [(p["proposal_id"], p["fields"]) for p in pending] == [
        (proposal_id, ["basic.email", "contacts"])]

    verified = cli.json("change", "verify", customer_id, proposal_id, actor="wang.fang")
    assert verified["result"]["applied_fields"] == ["basic.email", "contacts"]

    shown = cli.json("customer", "show", customer_id)["customer"]
    assert shown["version"] == 3
    assert shown["profile"]["basic"]["email"] == "sales@mingyuan.cn"
    assert shown["profile"]["contacts"][0]["name"] == "王芳"
    assert cli.json("change", "pending")["proposals"] == []
    events = cli.json("history", customer_id)["events"]
    assert [(e["event"], e["actor"], e["reason"]) for e in events] == [
        ("Registered", "li.na", "met at trade show"),
        ("ChangeProposed", "li.na", None),
        ("ChangeVerified", "wang.fang", None)]


def test_human_output_shows_the_customer_and_the_position_it_reflects(cli: Cli) -> None:
    customer_id = register(cli, basic__email="li@mingyuan.cn")

    shown = cli("customer", "show", customer_id, machine=False)

    assert shown.returncode == 0, shown.stderr
    assert "li@mingyuan.cn" in shown.stdout
    assert any("last review" in line and "never" in line for line in shown.stdout.splitlines())
    assert "None" not in shown.stdout  # no Python spelling of "nothing yet"
    # The read is recorded after it is answered (AU-1): the last stored event is its record.
    assert f"reflects event position {cli.stored_events() - 1}" in words(shown.stdout)


def test_a_quarterly_review_is_recorded_on_the_customer(cli: Cli) -> None:
    customer_id = register(cli)

    reviewed = cli.json("review", "record", customer_id, "--reviewed-on", "2026-10-15",
                        actor="wang.fang")

    assert reviewed["result"]["quarter"] == "2026-Q4"
    review = cli.json("customer", "show", customer_id)["customer"]["last_review"]
    assert (review["quarter"], review["reviewed_by"]) == ("2026-Q4", "wang.fang")


def test_a_rebuild_reproduces_the_read_models(cli: Cli) -> None:
    customer_id = register(cli)
    proposal_id = propose(cli, customer_id, "basic.fax=+862112345678")
    pending = cli.json("change", "pending")["proposals"]  # reading brings the views up to date
    assert [p["proposal_id"] for p in pending] == [proposal_id]
    before = cli.view_rows()

    rebuilt = cli.json("projections", "rebuild")

    assert {"accounts", "customer_view", "key_changes", "pending_proposals"} <= set(
        rebuilt["rebuilt"])
    assert before["key_changes"], "the fax is a key field, so its change is in key_changes"
    assert rebuilt["events_read"] > 0
    status = cli.json("projections", "status")
    assert set(status["projections"].values()) == {status["head_position"]}
    assert cli.view_rows() == before


def test_policy_show_prints_the_defaults_and_a_policy_file_overrides_them(cli: Cli) -> None:
    defaults = cli.json("policy", "show")
    (cli.workdir / "policy.toml").write_text("key_change_deadline_working_days = 3\n")

    overridden = cli.json("policy", "show", LEDGER_POLICY_FILE="policy.toml")

    assert defaults["values"]["key_change_deadline_working_days"] == 5
    assert defaults["values"]["locale"] == "en"
    assert defaults["values"]["deletion"] == {"review_role": "department_head",
                                              "approve_role": "info_mgmt_head",
                                              "execute_role": "sysadmin"}
    assert overridden["values"]["key_change_deadline_working_days"] == 3
    assert overridden["policy_file"] == "policy.toml"


def test_the_cli_can_drive_a_running_service(cli: Cli, server: RunningServer) -> None:
    profile_file = cli.write("remote.json", make_profile(seed=11))
    local = cli.stored_events()
    login = {"LEDGER_PASSWORD": PASSWORD}

    registered = cli.json("--url", server.base_url, "customer", "register", profile_file,
                          **login)
    shown = cli.json("--url", server.base_url, "customer", "show", registered["aggregate_id"],
                     "--min-position", str(registered["position"]), **login)
    wrong = cli("--url", server.base_url, "customer", "show", registered["aggregate_id"],
                LEDGER_PASSWORD="Wrong-Pass#0000")

    assert shown["customer"]["customer_id"] == registered["aggregate_id"]
    assert cli.stored_events() == local  # it went to the service's database, not the local one
    assert wrong.returncode == AuthenticationError.exit_code


# Refusals ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A customer with a pending proposal by li.na, shared by the refusal scenarios."""
    cli = staffed(Cli(tmp_path_factory.mktemp("refusals")))
    customer_id = register(cli)
    proposal_id = propose(cli, customer_id, "basic.fax=+862112345678")
    bad_profile = make_profile(basic__email="not-an-email", source_channel="carrier pigeon")
    del bad_profile["basic"]["legal_representative"]
    cli.write("bad.json", bad_profile)
    (cli.workdir / "broken.json").write_text("{not json", encoding="utf-8")
    return {"cli": cli, "customer": customer_id, "proposal": proposal_id}


REFUSALS = {
    "invalid profile": (["customer", "register", "bad.json"], ValidationFailedError,
                        ["basic.email", "basic.legal_representative", "source_channel"]),
    "missing file": (["customer", "register", "nowhere.json"], PathUnusableError,
                     ["no such file: nowhere.json"]),
    "directory for a file": (["customer", "register", "."], PathUnusableError,
                             ["cannot read ."]),
    "missing checkpoint": (["audit", "verify", "--checkpoint", "nowhere.json"],
                           PathUnusableError, ["no such file: nowhere.json"]),
    "not JSON": (["customer", "register", "broken.json"], ValidationFailedError,
                 ["not valid JSON"]),
    "unknown change path": (["change", "propose", "{customer}", "--happened-on", "2024-03-01",
                             "--set", "basic.shoe_size=42"], ValidationFailedError,
                            ["changes", "entry 0: is not a field that can be changed"]),
    "bad date": (["change", "propose", "{customer}", "--happened-on", "1 March",
                  "--set", "basic.fax=+862112345678"], ValidationFailedError,
                 ["happened_on", "YYYY-MM-DD"]),
    "unknown customer": (["customer", "show", "00000000-0000-4000-8000-000000000000"],
                         NotFoundError, ["no customer with this id"]),
    "stale version": (["change", "propose", "{customer}", "--happened-on", "2024-03-01",
                       "--set", "basic.fax=+862187654321", "--expected-version", "1"],
                      ConflictError, ["changed since"]),
    "own proposal": (["change", "verify", "{customer}", "{proposal}"], WorkflowViolationError,
                     ["cannot be verified by the person who proposed it"]),
    "unknown projection": (["projections", "rebuild", "nope"], ValidationFailedError,
                           ["unknown projection: nope"]),
    # Refused as over HTTP, never "0 found": a prefix with an escape, text that is no number.
    "control character in a search": (["customer", "find", "Ming\x1b[2J"],
                                      ValidationFailedError,
                                      ["name_prefix", "must not contain control characters"]),
    "phone that is no number": (["customer", "find-by", "--phone", "notaphone"],
                                ValidationFailedError, ["phone", "is not a phone number"]),
}


@pytest.mark.parametrize(("args", "error", "mentions"), REFUSALS.values(), ids=REFUSALS.keys())
def test_bad_input_exits_with_its_code_and_a_clear_message_and_writes_nothing(
        workspace: dict[str, Any], args: list[str], error: type[LedgerError],
        mentions: list[str]) -> None:
    cli: Cli = workspace["cli"]
    argv = [arg.format(**workspace) for arg in args]
    before = cli.stored_events()

    refused = cli(*argv, machine=False)

    assert refused.returncode == error.exit_code, refused.stderr
    message = words(refused.stderr)
    assert f"error [{error.code}]" in message
    assert all(mention in message for mention in mentions), message
    assert "Traceback" not in refused.stderr
    # A refused read of a customer is itself audited (AU-1): one access record, nothing else.
    audited_read = argv[:2] == ["customer", "show"]
    assert cli.stored_events() == before + audited_read


@pytest.mark.parametrize(("bundle", "error", "mentions"), [
    ("nowhere.pem", PathUnusableError, ["LEDGER_CA_BUNDLE nowhere.pem: no readable file"]),
    (".", PathUnusableError, ["LEDGER_CA_BUNDLE .: no readable file"]),
    ("bad.json", ValidationFailedError, ["LEDGER_CA_BUNDLE holds no PEM certificate"]),
], ids=["missing", "directory", "not-pem"])
def test_a_ca_bundle_that_cannot_be_used_is_named_before_anything_is_sent(
        workspace: dict[str, Any], bundle: str, error: type[LedgerError],
        mentions: list[str]) -> None:
    cli: Cli = workspace["cli"]

    # Nothing listens on port 1: the bundle is refused before any connection is tried.
    refused = cli("--url", "https://127.0.0.1:1", "customer", "find", "Ming", machine=False,
                  LEDGER_PASSWORD=PASSWORD, LEDGER_CA_BUNDLE=bundle)

    assert refused.returncode == error.exit_code, refused.stderr
    message = words(refused.stderr)
    assert f"error [{error.code}]" in message
    assert all(mention in message for mention in mentions), message
    assert "Traceback" not in refused.stderr


def test_the_actor_is_the_option_else_ledger_actor_else_the_login_name(
        workspace: dict[str, Any]) -> None:
    cli: Cli = workspace["cli"]
    # ledger_env leaves out every LEDGER_* variable of the caller's: no LEDGER_ACTOR.
    env = ledger_env(f"sqlite:///{cli.database}", LOGNAME="li.na", USER="li.na")

    def found(*args: str, **extra: str) -> int:
        done = run_ledger([*args, "customer", "find", "Ming"], cwd=cli.workdir,
                          timeout=CLI_TIMEOUT, env=env | extra)
        return done.returncode

    assert found() == 0  # li.na, the login name: a sales account may search
    assert found(LEDGER_ACTOR="admin") == PermissionDeniedError.exit_code
    assert found("--actor", "li.na", LEDGER_ACTOR="admin") == 0


def test_a_refusal_in_json_mode_is_a_parseable_error_on_stderr(
        workspace: dict[str, Any]) -> None:
    cli: Cli = workspace["cli"]

    refused = cli("customer", "register", "bad.json")

    assert refused.returncode == ValidationFailedError.exit_code
    assert refused.stdout == ""
    error = json.loads(refused.stderr)["error"]
    assert error["code"] == "validation_failed"
    assert {p["field"] for p in error["details"]["problems"]} == {
        "basic.email", "basic.legal_representative", "source_channel"}


# Help -------------------------------------------------------------------------

# Typer vendors its own click: recognise groups by their sub-commands, not by class.
COMMAND_TREE: Any = typer.main.get_command(app)
GROUPS: dict[str, Any] = {"ledger": COMMAND_TREE} | {
    name: command for name, command in COMMAND_TREE.commands.items()
    if getattr(command, "commands", None)}


@pytest.mark.parametrize("group", GROUPS, ids=GROUPS.keys())
def test_help_lists_every_command_of_each_group(tmp_path: Path, group: str) -> None:
    shown = run_ledger([*([] if group == "ledger" else [group]), "--help"], cwd=tmp_path,
                       timeout=CLI_TIMEOUT, env=ledger_env("sqlite:///unused.sqlite3"))

    assert shown.returncode == 0, shown.stderr
    commands = GROUPS[group].commands
    assert all(f" {name} " in shown.stdout for name in commands), shown.stdout
    assert not (tmp_path / "unused.sqlite3").exists()


def test_every_command_has_help_text() -> None:
    runner = CliRunner()
    for group, command in GROUPS.items():
        prefix = [] if group == "ledger" else [group]
        for name in command.commands:
            shown = runner.invoke(app, [*prefix, name, "--help"])
            assert shown.exit_code == 0, (group, name, shown.output)
            assert "Usage:" in shown.output


def test_a_proposer_withdraws_a_proposal_and_cannot_reject_it(cli: Cli) -> None:
    customer_id = register(cli)
    proposal_id = propose(cli, customer_id, "basic.email=withdrawn@example.com")

    own_rejection = cli("change", "reject", customer_id, proposal_id, "--reason", "mine")
    assert own_rejection.returncode == WorkflowViolationError.exit_code
    not_hers = cli("change", "withdraw", customer_id, proposal_id, actor="wang.fang")
    assert not_hers.returncode == WorkflowViolationError.exit_code

    withdrawn = cli.json("change", "withdraw", customer_id, proposal_id)

    assert withdrawn["result"]["proposal_id"] == proposal_id
    assert cli.json("change", "pending", "--customer", customer_id)["proposals"] == []
    events = cli.json("history", customer_id)["events"]
    assert [(e["event"], e["actor"]) for e in events][-1] == ("ChangeWithdrawn", "li.na")
    assert cli.json("customer", "show", customer_id)["customer"]["version"] == 3

"""Account commands through the real bus, on the library's in-memory event store: given
accounts, when a command, then its events or an error (LG-1, LG-3, AC-2, AC-4, IR-1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from commands.accounts import (
    ChangePassword,
    CreateFirstAdministrator,
    DisableAccount,
    LockAccount,
    ReportCompromise,
    ResetPassword,
    UnlockAccount,
)
from commands.actor import Actor
from commands.roles import ApproveGrant, GrantRole, LockRole, RevokeAllRoles
from ledger.domain.account import Account, AccountStatus, account_id
from ledger.domain.errors import (
    ConflictError,
    PermissionDeniedError,
    ValidationFailedError,
    WorkflowViolationError,
)
from ledger.policy import load_policy
from tests.accounts import (
    ADMIN,
    ONE_TIME,
    PASSWORD,
    SECOND_ADMIN,
    create,
    grant,
    open_account,
    two_administrators,
)
from tests.conftest import FAST_HASHING_POLICY, FixedClock
from tests.fakes import WriteSide, write_side
from tests.store_snapshot import only_a_denial_recorded, snapshot_store, store_unchanged


def account(ledger: WriteSide, username: str) -> Account:
    found: object = ledger.store.repository.get(account_id(username))
    assert isinstance(found, Account)
    return found


def test_an_account_is_created_with_a_hashed_one_time_password(ledger: WriteSide) -> None:
    outcome = create(ledger, "li.na")
    stored = account(ledger, "li.na")
    assert outcome["result"] == {"username": "li.na", "must_change_password": True,
                                 "grants": []}
    assert stored.must_change_password and stored.password_hash.startswith("$argon2id$")
    assert ONE_TIME not in str(outcome) + str(list(ledger.store.events.get(stored.id)))


@pytest.mark.parametrize(("field", "value", "error"), [
    ("username", "li.na", ConflictError),
    ("employee_id", "E-li.na", ConflictError),
    ("initial_password", "password123", ValidationFailedError),
    ("username", "Li Na", ValidationFailedError),
])
def test_a_duplicate_or_invalid_account_is_refused_and_writes_nothing(
        ledger: WriteSide, field: str, value: str, error: type[Exception]) -> None:
    create(ledger, "li.na")
    fields: dict[str, Any] = {"username": "wang.fang", "employee_id": "E2",
                              "department": "sales", "initial_password": ONE_TIME}
    with store_unchanged(ledger.store), pytest.raises(error):
        ledger.bus.execute_named("create-account", fields | {field: value}, ADMIN)


def test_the_owner_changes_the_password_giving_the_current_one(ledger: WriteSide) -> None:
    create(ledger, "li.na")
    owner = Actor("li.na")
    with pytest.raises(ValidationFailedError, match="current_password"):
        ledger.bus.execute(ChangePassword(username="li.na", current_password="Wrong-Pass#123",
                                          new_password=PASSWORD), owner)
    with pytest.raises(ValidationFailedError) as weak:
        ledger.bus.execute(ChangePassword(username="li.na", current_password=ONE_TIME,
                                          new_password="li.na-2024-pass!"), owner)
    assert weak.value.fields == ["new_password"]
    ledger.bus.execute(ChangePassword(username="li.na", current_password=ONE_TIME,
                                      new_password=PASSWORD), owner)
    assert account(ledger, "li.na").must_change_password is False


def test_no_one_changes_another_persons_password(ledger: WriteSide) -> None:
    create(ledger, "li.na")
    before = snapshot_store(ledger.store)
    with pytest.raises(PermissionDeniedError):
        ledger.bus.execute(ChangePassword(username="li.na", current_password=ONE_TIME,
                                          new_password=PASSWORD), Actor("wang.fang"))
    added = snapshot_store(ledger.store).added_since(before)
    # The refusal writes nothing but its own audit record (OP-1).
    assert [r.topic.rsplit(":", 1)[1] for r in added] == ["AccessRecord.PermissionDenied"]


def test_a_reset_sets_a_new_one_time_password(ledger: WriteSide) -> None:
    open_account(ledger, "li.na", "sales")
    ledger.bus.execute(ResetPassword(username="li.na", one_time_password="Fresh-Start#9931"),
                       ADMIN)
    assert account(ledger, "li.na").must_change_password is True


def test_lock_unlock_report_and_disable(ledger: WriteSide) -> None:
    open_account(ledger, "li.na", "sales")
    ledger.bus.execute(LockAccount(username="li.na", reason="suspicious"), ADMIN)
    assert account(ledger, "li.na").lock_reason == "administrator"
    ledger.bus.execute(UnlockAccount(username="li.na"), ADMIN)
    # The owner reports their own compromise; the lock is immediate.
    ledger.bus.execute(ReportCompromise(username="li.na"), Actor("li.na"))
    assert account(ledger, "li.na").lock_reason == "compromise_reported"
    ledger.bus.execute(DisableAccount(username="li.na"), ADMIN)
    assert account(ledger, "li.na").status is AccountStatus.DISABLED
    with pytest.raises(WorkflowViolationError):
        ledger.bus.execute(UnlockAccount(username="li.na"), ADMIN)


def test_a_high_privilege_grant_is_inactive_until_a_second_person_approves(
        ledger: WriteSide) -> None:
    create(ledger, "zhao.lei")
    outcome = ledger.bus.execute(GrantRole(username="zhao.lei", role="auditor"), ADMIN)
    assert outcome["result"]["active"] is False
    assert ledger.access.identity.actor_for("zhao.lei").roles == frozenset()

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError,
                                                      match="second person"):
        ledger.bus.execute(ApproveGrant(username="zhao.lei", role="auditor"), ADMIN)
    ledger.bus.execute(ApproveGrant(username="zhao.lei", role="auditor"), SECOND_ADMIN)

    assert ledger.access.identity.actor_for("zhao.lei").roles == {"auditor"}


def test_an_ordinary_grant_takes_effect_at_once(ledger: WriteSide) -> None:
    create(ledger, "li.na")
    outcome = ledger.bus.execute(GrantRole(username="li.na", role="sales"), ADMIN)
    assert outcome["result"]["active"] is True
    assert ledger.access.identity.actor_for("li.na").roles == {"sales"}


def test_a_change_of_job_revokes_every_grant_in_one_step(ledger: WriteSide) -> None:
    open_account(ledger, "li.na", "sales", "customer_service")
    ledger.bus.execute(GrantRole(username="li.na", role="auditor"), ADMIN)  # waiting
    outcome = ledger.bus.execute(RevokeAllRoles(username="li.na"), ADMIN)
    assert outcome["result"]["revoked"] == ["auditor", "customer_service", "sales"]
    assert account(ledger, "li.na").grants == {}


def test_an_incident_locks_every_holder_of_a_role_in_one_audited_step(ledger: WriteSide) -> None:
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "zhao.lei", "sales", "finance")
    open_account(ledger, "wang.fang", "info_specialist")
    outcome = ledger.bus.execute(LockRole(role="sales", reason="phishing wave"), ADMIN)
    assert outcome["result"]["locked"] == ["li.na", "zhao.lei"]
    assert account(ledger, "wang.fang").status is AccountStatus.ACTIVE
    locked = [e for e in ledger.store.events.get(account_id("li.na"))][-1]
    assert isinstance(locked, Account.Locked)
    assert (locked.reason, locked.meta["actor"], locked.meta["reason"]) == (
        "incident", ADMIN.id, "phishing wave")


def test_a_lock_role_that_locks_nobody_names_no_account_in_its_outcome(
        ledger: WriteSide) -> None:
    open_account(ledger, "li.na", "sales")
    li_na_before = account(ledger, "li.na").version

    outcome = ledger.bus.execute(LockRole(role="finance", reason="drill"), ADMIN)

    assert outcome["result"]["locked"] == []
    assert (outcome["aggregate_id"], outcome["version"]) == (None, None)
    assert account(ledger, "li.na").version == li_na_before  # loaded, never written


def test_a_lock_role_names_an_account_it_locked(ledger: WriteSide) -> None:
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "wang.fang", "info_specialist")

    outcome = ledger.bus.execute(LockRole(role="info_specialist", reason="drill"), ADMIN)

    assert outcome["result"]["locked"] == ["wang.fang"]
    assert outcome["aggregate_id"] == str(account_id("wang.fang"))
    assert outcome["version"] == account(ledger, "wang.fang").version


def test_the_first_administrator_is_created_once(ledger: WriteSide) -> None:
    command = CreateFirstAdministrator(username="admin", employee_id="A-0",
                                       department="it", initial_password=ONE_TIME)
    outcome = ledger.bus.execute(command, ADMIN)
    assert outcome["result"]["roles"] == ["sysadmin"]
    assert account(ledger, "admin").active_roles == {"sysadmin"}
    with pytest.raises(ConflictError, match="administrator account exists"):
        ledger.bus.execute(command.model_copy(update={"command_id": "again",
                                                      "username": "admin2"}), ADMIN)


def test_roles_are_checked_against_the_known_list(ledger: WriteSide) -> None:
    create(ledger, "li.na")
    with pytest.raises(ValidationFailedError):
        ledger.bus.execute_named("grant-role", {"username": "li.na", "role": "god"}, ADMIN)
    grant(ledger, "li.na", "sales")


NEW_ACCOUNT = {"username": "li.na", "employee_id": "E-li.na", "department": "sales",
               "initial_password": ONE_TIME}


def test_an_account_is_opened_with_its_roles_in_one_step(ledger: WriteSide) -> None:
    outcome = ledger.bus.execute_named("create-account",
                                       NEW_ACCOUNT | {"roles": ["sales", "sysadmin"]}, ADMIN)

    grants = {g["role"]: g["active"] for g in outcome["result"]["grants"]}
    assert grants == {"sales": True, "sysadmin": False}  # sysadmin waits for a second person
    assert account(ledger, "li.na").active_roles == {"sales"}


@pytest.mark.parametrize(("roles", "error"), [
    (["sales", "no-such-role"], ValidationFailedError),
    (["sales", "sales"], ValidationFailedError),
])
def test_an_account_with_a_bad_role_is_not_opened_at_all(
        ledger: WriteSide, roles: list[str], error: type[Exception]) -> None:
    with store_unchanged(ledger.store), pytest.raises(error):
        ledger.bus.execute_named("create-account", NEW_ACCOUNT | {"roles": roles}, ADMIN)


def test_an_account_whose_grant_is_refused_is_not_opened_either(ledger: WriteSide) -> None:
    two_administrators(ledger)  # from now on a grant needs a passed assessment

    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError,
                                                      match="assessment"):
        ledger.bus.execute_named("create-account", NEW_ACCOUNT | {"roles": ["sales"]}, ADMIN)


def test_opening_an_account_with_roles_needs_the_grant_permission_too(
        tmp_path: Path, clock: FixedClock) -> None:
    # A policy letting the technical role open accounts, but not grant roles.
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_HASHING_POLICY.read_text(encoding="utf-8")
                      + '[access.permissions]\ntechnical = ["create-account"]\n',
                      encoding="utf-8")
    side = write_side(load_policy(policy), clock)
    opener = Actor("it.desk", frozenset({"technical"}))
    try:
        side.bus.execute_named("create-account", NEW_ACCOUNT | {"username": "wu.hao",
                                                                "employee_id": "E-wu"}, opener)
        # Only the denial is recorded: no account, no grant.
        with only_a_denial_recorded(side.store), pytest.raises(PermissionDeniedError,
                                                               match="grant-role"):
            side.bus.execute_named("create-account", NEW_ACCOUNT | {"roles": ["sales"]},
                                   opener)
    finally:
        side.close()

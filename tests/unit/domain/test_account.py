"""The account aggregate: given events, when a decision, then events or an error."""

from __future__ import annotations

import pytest

from ledger.domain.account import (
    Account,
    AccountRegistry,
    AccountStatus,
    LockReason,
    account_id,
)
from ledger.domain.errors import ConflictError, WorkflowViolationError


def an_account(username: str = "li.na") -> Account:
    return Account.create(username=username, employee_id="E1", department="sales",
                          password_hash="$argon2id$hash")


def last_event(account: Account) -> object:
    return account.collect_events()[-1]


def test_a_new_account_must_change_its_one_time_password() -> None:
    account = an_account()
    assert account.id == account_id("li.na")
    assert (account.must_change_password, account.status) == (True, AccountStatus.ACTIVE)
    account.change_password("$argon2id$new")
    assert account.must_change_password is False
    account.change_password("$argon2id$reset", one_time=True)
    assert account.must_change_password is True


def test_an_ordinary_grant_is_active_at_once() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=False)
    assert account.active_roles == {"sales"}


def test_a_high_privilege_grant_waits_for_a_second_person() -> None:
    account = an_account()
    account.grant("auditor", by="admin.one", needs_approval=True)
    assert account.active_roles == frozenset()

    account.approve_grant("auditor", by="admin.two")

    assert account.active_roles == {"auditor"}
    assert account.grants["auditor"]["approved_by"] == "admin.two"


@pytest.mark.parametrize("approver", ["admin.one", "li.na"], ids=["requester", "grantee"])
def test_a_grant_cannot_be_approved_by_its_requester_or_its_grantee(approver: str) -> None:
    account = an_account()
    account.grant("sysadmin", by="admin.one", needs_approval=True)
    account.collect_events()
    with pytest.raises(WorkflowViolationError, match="second person"):
        account.approve_grant("sysadmin", by=approver)
    assert account.active_roles == frozenset()
    assert account.collect_events() == []


def test_no_one_grants_a_role_to_themselves() -> None:
    with pytest.raises(WorkflowViolationError, match="themselves"):
        an_account().grant("sales", by="li.na", needs_approval=False)


def test_a_role_is_granted_once() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=False)
    with pytest.raises(ConflictError, match="already holds"):
        account.grant("sales", by="admin", needs_approval=False)


def test_revoking_every_role_in_one_step_includes_waiting_grants() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=False)
    account.grant("auditor", by="admin", needs_approval=True)
    assert account.revoke(sorted(account.grants), by="admin") == ["auditor", "sales"]
    assert account.grants == {}
    assert account.revoke(["sales"], by="admin") == []


def test_a_locked_account_is_unlocked_by_an_administrator() -> None:
    account = an_account()
    account.lock(reason=LockReason.COMPROMISE_REPORTED, by="li.na")
    assert (account.status, account.lock_reason) == (AccountStatus.LOCKED,
                                                     "compromise_reported")
    account.lock(reason=LockReason.INCIDENT, by="admin")  # already locked: nothing new
    assert len([e for e in account.collect_events() if isinstance(e, Account.Locked)]) == 1
    account.unlock(by="admin")
    assert account.status is AccountStatus.ACTIVE and account.unlocked_at is not None
    with pytest.raises(WorkflowViolationError, match="not locked"):
        account.unlock(by="admin")


def test_a_disabled_account_takes_no_further_changes() -> None:
    account = an_account()
    account.disable(by="admin")
    for decide in (lambda: account.grant("sales", by="admin", needs_approval=False),
                   lambda: account.change_password("$argon2id$x"),
                   lambda: account.lock(reason=LockReason.INCIDENT, by="admin")):
        with pytest.raises(WorkflowViolationError, match="disabled"):
            decide()


def test_replaying_the_events_reproduces_the_account() -> None:
    account = an_account()
    account.grant("sales", by="admin", needs_approval=False)
    account.grant("auditor", by="admin", needs_approval=True)
    account.approve_grant("auditor", by="other")
    account.lock(reason=LockReason.ADMINISTRATOR, by="admin")
    events = account.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Account)
    assert replayed.as_dict() == account.as_dict()


def test_the_registry_allows_one_account_per_username_and_per_employee() -> None:
    registry = AccountRegistry.start()
    registry.add("li.na", "E1")
    with pytest.raises(ConflictError, match="username"):
        registry.add("li.na", "E2")
    with pytest.raises(ConflictError, match="employee"):
        registry.add("na.li", "E1")
    assert registry.usernames == ["li.na"]


# Sessions: a session opened on version v of the account is judged by the events since.

def test_a_lock_ends_the_sessions_opened_before_it_for_good() -> None:
    account = an_account()
    before_lock = account.version
    assert account.session_valid(before_lock, "s1")
    account.lock(reason=LockReason.COMPROMISE_REPORTED, by="li.na")
    account.unlock(by="admin")
    assert not account.session_valid(before_lock, "s1")
    assert account.session_valid(account.version, "s2")  # a login after the unlock


@pytest.mark.parametrize("ending", ["lock", "disable", "reset"])
def test_a_lock_a_disable_and_a_password_reset_each_end_every_earlier_session(
        ending: str) -> None:
    account = an_account()
    opened = account.version
    if ending == "lock":
        account.lock(reason=LockReason.ADMINISTRATOR, by="admin")
    elif ending == "disable":
        account.disable(by="admin")
    else:
        account.change_password("$argon2id$reset", one_time=True, kept_session="s1")
    assert not account.session_valid(opened, "s1")


def test_an_own_password_change_keeps_only_the_session_it_was_made_in() -> None:
    account = an_account()
    opened = account.version
    account.change_password("$argon2id$new", kept_session="mine")
    assert account.session_valid(opened, "mine")
    assert not account.session_valid(opened, "other")
    account.change_password("$argon2id$newer", kept_session="mine")
    assert account.session_valid(opened, "mine")  # a second change in it keeps it too

    account.lock(reason=LockReason.ADMINISTRATOR, by="admin")
    account.unlock(by="admin")
    assert not account.session_valid(opened, "mine")


def test_a_change_made_in_an_ended_session_does_not_bring_it_back() -> None:
    """A request authenticated just before a lock may run its change just after it: the
    session it names was ended by the lock, and stays ended."""
    account = an_account()
    opened = account.version
    account.lock(reason=LockReason.ADMINISTRATOR, by="admin")
    account.change_password("$argon2id$new", kept_session="mine")
    account.unlock(by="admin")
    assert not account.session_valid(opened, "mine")


def test_old_password_changes_replay_as_keeping_no_session() -> None:
    state: dict[str, object] = {"password_hash": "h", "one_time": False}
    Account.PasswordChanged.upcast_v1_v2(state)
    assert state["kept_session"] is None

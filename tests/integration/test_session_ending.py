"""A lock, a disable, a reported compromise or a new password ends the account's sessions for
good (README, "Sessions"), on SQLite and PostgreSQL, through the bus and the identity."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from commands.bus import Actor
from ledger.credentials import AuthenticationError, token_digest
from service.bootstrap import Ledger
from tests.accounts import ADMIN, PASSWORD, open_account

HOME = "127.0.0.1"
ONE_TIME_AGAIN = "Second-Start#7301"
OWNERS_NEW = "Fresh-Meadow#9034"
LEGACY_TOKEN = "a-token-from-an-earlier-release"


def log_in(ledger: Ledger, password: str = PASSWORD, username: str = "wang.fang") -> str:
    token: str = ledger.access.identity.login(username, password, client_address=HOME)["token"]
    return token


def session_of(ledger: Ledger, token: str) -> Actor:
    return ledger.access.identity.authenticate(token, HOME)


def ended(ledger: Ledger, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        session_of(ledger, token)
    return caught.value.message


def admin(ledger: Ledger, command: str, **fields: str) -> None:
    ledger.bus.execute_named(command, {"username": "wang.fang", **fields}, ADMIN)


def change_own_password(ledger: Ledger, actor: Actor, current: str, new: str) -> None:
    ledger.bus.execute_named("change-password", {
        "username": actor.id, "current_password": current, "new_password": new}, actor)


def test_a_reported_compromise_ends_the_attackers_session_through_reset_and_unlock(
        ledger: Ledger) -> None:
    """The tester's scenario: the attacker's token stays dead after the owner is back."""
    open_account(ledger, "wang.fang", "info_specialist")
    attacker, owner = log_in(ledger), log_in(ledger)

    ledger.bus.execute_named("report-compromise", {"username": "wang.fang"},
                             session_of(ledger, owner))
    admin(ledger, "reset-password", one_time_password=ONE_TIME_AGAIN)
    admin(ledger, "unlock-account")
    fresh = log_in(ledger, ONE_TIME_AGAIN)
    change_own_password(ledger, session_of(ledger, fresh), ONE_TIME_AGAIN, OWNERS_NEW)

    assert "log in again" in ended(ledger, attacker)
    assert session_of(ledger, fresh).roles == {"info_specialist"}


def test_a_lock_then_an_unlock_leaves_the_earlier_session_ended(ledger: Ledger) -> None:
    open_account(ledger, "wang.fang", "info_specialist")
    token = log_in(ledger)
    admin(ledger, "lock-account")
    admin(ledger, "unlock-account")  # the session was not used while the account was locked

    assert "log in again" in ended(ledger, token)
    assert session_of(ledger, log_in(ledger)).roles == {"info_specialist"}


@pytest.mark.parametrize("locking", ["lock-role", "failed-logins"])
def test_every_way_of_locking_ends_the_earlier_sessions(ledger: Ledger, locking: str) -> None:
    open_account(ledger, "wang.fang", "info_specialist")
    token = log_in(ledger)
    if locking == "lock-role":
        ledger.bus.execute_named("lock-role", {"role": "info_specialist"}, ADMIN)
    else:
        for _ in range(ledger.policy.login.max_failed_attempts):
            with pytest.raises(AuthenticationError):
                log_in(ledger, "Wrong-Guess#0000")
    admin(ledger, "unlock-account")

    assert "log in again" in ended(ledger, token)


def test_a_session_from_before_a_password_reset_never_regains_its_roles(
        ledger: Ledger) -> None:
    open_account(ledger, "wang.fang", "info_specialist")
    old = log_in(ledger)
    admin(ledger, "reset-password", one_time_password=ONE_TIME_AGAIN)
    fresh = log_in(ledger, ONE_TIME_AGAIN)
    change_own_password(ledger, session_of(ledger, fresh), ONE_TIME_AGAIN, OWNERS_NEW)

    assert "log in again" in ended(ledger, old)


def test_a_disabled_accounts_session_ends(ledger: Ledger) -> None:
    open_account(ledger, "wang.fang", "info_specialist")
    token = log_in(ledger)
    admin(ledger, "disable-account")
    ended(ledger, token)


def test_an_own_password_change_ends_the_other_sessions_but_not_this_one(
        ledger: Ledger) -> None:
    open_account(ledger, "wang.fang", "info_specialist")
    other, this = log_in(ledger), log_in(ledger)
    change_own_password(ledger, session_of(ledger, this), PASSWORD, OWNERS_NEW)

    assert session_of(ledger, this).roles == {"info_specialist"}
    assert "log in again" in ended(ledger, other)


def test_an_in_process_password_change_ends_every_session(ledger: Ledger) -> None:
    """A trusted in-process caller has no session of its own to keep."""
    open_account(ledger, "wang.fang", "info_specialist")
    token = log_in(ledger)
    change_own_password(ledger, ledger.access.identity.actor_for("wang.fang"), PASSWORD,
                        OWNERS_NEW)
    ended(ledger, token)


def test_an_ended_session_stays_ended_on_another_instance_and_after_a_restart(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    """The rule comes from the account's events, not from this process's memory."""
    first = make_ledger(database_url)
    open_account(first, "wang.fang", "info_specialist")
    token = log_in(first)
    second = make_ledger(database_url)
    assert session_of(second, token).roles == {"info_specialist"}  # cached there now

    admin(first, "lock-account")
    admin(first, "unlock-account")
    restarted = make_ledger(database_url)

    for instance in (second, restarted):
        assert "log in again" in ended(instance, token)


def test_a_sessions_table_from_an_earlier_release_gains_the_account_version(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    """A session stored before sessions named their account's version counts as opened
    on version 0: the account's password change since has ended it."""
    ledger = make_ledger(database_url)
    open_account(ledger, "wang.fang", "info_specialist")
    template = ledger.access.credentials.session(log_in(ledger))
    assert template is not None
    with ledger.access.credentials.db.transaction() as cursor:
        cursor.execute("DROP TABLE sessions")
        cursor.execute("CREATE TABLE sessions (digest TEXT PRIMARY KEY, username TEXT NOT NULL,"
                       " created_at TEXT NOT NULL, expires_at TEXT NOT NULL,"
                       " last_seen_at TEXT NOT NULL, client_address TEXT)")
        cursor.execute("INSERT INTO sessions VALUES (:d, 'wang.fang', :t, :e, :t, NULL)",
                       {"d": token_digest(LEGACY_TOKEN), "t": template.created_at.isoformat(),
                        "e": template.expires_at.isoformat()})

    restarted = make_ledger(database_url)

    assert "log in again" in ended(restarted, LEGACY_TOKEN)
    assert session_of(restarted, log_in(restarted)).roles == {"info_specialist"}

"""Logins, sessions and the second factor (LG-1..LG-6, AU-1), on a fixed clock, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from commands.accounts import UnlockAccount
from ledger import totp
from ledger.credentials import AuthenticationError
from ledger.domain.access import AccessRecord
from ledger.domain.account import Account, account_id
from ledger.domain.errors import PermissionDeniedError
from service.bootstrap import Ledger
from tests.accounts import ADMIN, ONE_TIME, PASSWORD, create, open_account
from tests.conftest import FixedClock

HOME = "127.0.0.1"


def last_event(ledger: Ledger) -> Any:
    (notification,) = ledger.store.read_log(ledger.store.head_position() - 1, 1)
    return ledger.store.mapper.to_domain_event(notification)


def refused(call: Callable[[], object], error: type[Exception] = AuthenticationError
            ) -> str:
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


def test_a_login_opens_a_session_that_names_the_actor_and_is_audited(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    session = ledger.access.identity.login("li.na", PASSWORD, client_address=HOME)

    actor = ledger.access.identity.authenticate(session["token"], HOME)

    assert (actor.id, actor.roles, actor.department) == ("li.na", {"sales"}, "sales")
    assert session["password_change_required"] is False
    audit = last_event(ledger)
    assert isinstance(audit, AccessRecord.LoginSucceeded)
    assert (audit.meta["actor"], audit.meta["client_address"]) == ("li.na", HOME)
    stored = ledger.access.credentials.session(session["token"])
    assert stored is not None and session["token"] not in stored.digest


def test_unknown_user_and_wrong_password_both_run_the_hash(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    open_account(ledger, "li.na", "sales")
    passwords = ledger.access.identity.passwords
    calls: list[str] = []

    class SpyHasher:
        """The real argon2 hasher, noting every hash it is asked to check against."""

        def __init__(self, real: Any) -> None:
            self.real = real

        def hash(self, password: str) -> str:
            return str(self.real.hash(password))

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored[:10])
            return bool(self.real.verify(stored, password))

    monkeypatch.setattr(passwords, "hasher", SpyHasher(passwords.hasher))
    unknown = refused(lambda: ledger.access.identity.login("nobody", PASSWORD,
                                                           client_address=HOME))
    wrong = refused(lambda: ledger.access.identity.login("li.na", "Wrong-Pass#0000",
                                                         client_address=HOME))

    assert calls == ["$argon2id$", "$argon2id$"]
    assert unknown == wrong == "wrong username or password"
    assert last_event(ledger).reason == "wrong_password"


def test_five_failures_lock_the_account_until_an_administrator_unlocks_it(
        ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    identity = ledger.access.identity
    for _ in range(5):
        refused(lambda: identity.login("li.na", "Wrong-Pass#0000", client_address=HOME))

    locked = [e for e in ledger.store.events.get(account_id("li.na"))][-1]
    assert isinstance(locked, Account.Locked) and locked.reason == "failed_logins"
    assert locked.meta["actor"] == "system:login"
    assert refused(lambda: identity.login("li.na", PASSWORD, client_address=HOME)) == (
        "wrong username or password")
    assert last_event(ledger).reason == "locked"

    ledger.bus.execute(UnlockAccount(username="li.na"), ADMIN)
    assert identity.login("li.na", PASSWORD, client_address=HOME)["token"]
    refused(lambda: identity.login("li.na", "Wrong-Pass#0000", client_address=HOME))
    assert ledger.access.credentials.failures("li.na")[0] == 1  # counted afresh


def test_a_locked_account_answers_the_same_whatever_the_password(ledger: Ledger) -> None:
    """After the lockout, guessing on confirms nothing: the right password, a wrong one and
    an unknown account all get the same error, message and details (LG-3)."""
    open_account(ledger, "li.na", "sales")
    identity = ledger.access.identity
    for _ in range(5):
        refused(lambda: identity.login("li.na", "Wrong-Pass#0000", client_address=HOME))

    def answer(username: str, password: str) -> tuple[type[Exception], str, object]:
        with pytest.raises(AuthenticationError) as caught:
            identity.login(username, password, client_address=HOME)
        return type(caught.value), caught.value.message, caught.value.details

    right = answer("li.na", PASSWORD)
    assert last_event(ledger).reason == "locked"
    wrong = answer("li.na", "Other-Guess#4242")
    assert last_event(ledger).reason == "locked"
    assert right == wrong == answer("nobody", PASSWORD) == (
        AuthenticationError, "wrong username or password", {})
    assert ledger.access.credentials.failures("li.na")[0] == 5  # guesses on a lock: not counted


def test_a_one_time_password_session_may_only_change_the_password(ledger: Ledger) -> None:
    create(ledger, "li.na")
    ledger.bus.execute_named("grant-role", {"username": "li.na", "role": "sales"}, ADMIN)
    session = ledger.access.identity.login("li.na", ONE_TIME, client_address=HOME)
    actor = ledger.access.identity.authenticate(session["token"], HOME)

    assert session["password_change_required"] is True and actor.roles == frozenset()
    refused(lambda: ledger.bus.execute_named("register-customer", {"profile": {}}, actor),
            PermissionDeniedError)
    ledger.bus.execute_named("change-password", {"username": "li.na",
                                                 "current_password": ONE_TIME,
                                                 "new_password": PASSWORD}, actor)
    assert ledger.access.identity.authenticate(session["token"], HOME).roles == {"sales"}


def test_sessions_expire_idle_out_and_end_at_logout(ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "li.na", "sales")
    identity = ledger.access.identity
    login = lambda: identity.login("li.na", PASSWORD, client_address=HOME)["token"]  # noqa: E731
    start = clock.now

    assert "Bearer" in refused(lambda: identity.authenticate(None, HOME))
    idle = login()
    clock.now = start + timedelta(minutes=31)
    assert "expired" in refused(lambda: identity.authenticate(idle, HOME))

    kept_busy = login()
    for _ in range(20):  # every 25 minutes, for more than the 8-hour lifetime
        clock.now += timedelta(minutes=25)
        if clock.now - start > timedelta(hours=8, minutes=31):
            break
        identity.authenticate(kept_busy, HOME)
    assert "expired" in refused(lambda: identity.authenticate(kept_busy, HOME))

    ended = login()
    identity.logout(ended, HOME)
    assert "not valid" in refused(lambda: identity.authenticate(ended, HOME))
    assert isinstance(last_event(ledger), AccessRecord.LoggedOut)


def test_a_locked_accounts_session_stops_working_at_once(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    token = ledger.access.identity.login("li.na", PASSWORD, client_address=HOME)["token"]
    ledger.bus.execute_named("lock-account", {"username": "li.na"}, ADMIN)
    assert "locked" in refused(lambda: ledger.access.identity.authenticate(token, HOME))


def test_logins_from_outside_the_allowed_networks_are_refused_and_audited(
        ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    refused(lambda: ledger.access.identity.login("li.na", PASSWORD,
                                                 client_address="203.0.113.5"),
            PermissionDeniedError)
    audit = last_event(ledger)
    assert (audit.reason, audit.meta["client_address"]) == ("network", "203.0.113.5")


def test_an_old_password_brings_a_rotation_reminder(ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "li.na", "sales")
    clock.now += timedelta(days=91)
    session = ledger.access.identity.login("li.na", PASSWORD, client_address=HOME)
    assert session["password_rotation_due"] is True
    assert any("90 days" in notice for notice in session["notices"])


def enrol(ledger: Ledger, clock: FixedClock, username: str) -> bytes:
    actor = ledger.access.identity.actor_for(username, HOME)
    started = ledger.access.identity.begin_totp_enrolment(actor)
    assert started["otpauth_uri"].startswith("otpauth://totp/")
    secret = ledger.access.credentials.totp_secret(username)
    assert secret is not None
    ledger.access.identity.confirm_totp_enrolment(
        actor, totp.code_at(secret[0], clock.now.timestamp()))
    return secret[0]


def test_a_totp_code_is_needed_once_enrolled_and_is_never_accepted_twice(
        ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "li.na", "sales")
    identity = ledger.access.identity
    secret = enrol(ledger, clock, "li.na")
    assert isinstance(last_event(ledger), AccessRecord.TotpEnrolled)
    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    code = totp.code_at(secret, clock.now.timestamp())

    refused(lambda: identity.login("li.na", PASSWORD, client_address=HOME))
    assert last_event(ledger).reason == "totp_missing"
    refused(lambda: identity.login("li.na", PASSWORD, f"{(int(code) + 1) % 10**6:06d}", HOME))
    assert last_event(ledger).reason == "wrong_totp"
    assert identity.login("li.na", PASSWORD, code, HOME)["token"]
    refused(lambda: identity.login("li.na", PASSWORD, code, HOME))
    assert last_event(ledger).reason == "totp_replayed"

    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    assert identity.login("li.na", PASSWORD, totp.code_at(secret, clock.now.timestamp()),
                          HOME)["token"]


def test_a_role_that_requires_a_second_factor_acts_only_once_enrolled(
        ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "root.wu", "sysadmin", department="it")  # policy: sysadmin needs it
    identity = ledger.access.identity
    session = identity.login("root.wu", PASSWORD, client_address=HOME)
    assert session["totp_enrolment_required"] is True
    assert identity.authenticate(session["token"], HOME).roles == frozenset()

    secret = enrol(ledger, clock, "root.wu")
    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    code = totp.code_at(secret, clock.now.timestamp())
    again = identity.login("root.wu", PASSWORD, code, HOME)
    assert identity.authenticate(again["token"], HOME).roles == {"sysadmin"}

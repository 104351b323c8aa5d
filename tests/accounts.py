"""Test helpers for accounts: administrators, and accounts ready to log in with given roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commands.accounts import ApproveGrant, ChangePassword, CreateAccount, GrantRole
from commands.bus import Actor
from ledger import totp
from service.bootstrap import Ledger
from tests.conftest import FixedClock

ADMIN = Actor("local-admin:test", frozenset({"sysadmin"}), client_address="cli")
SECOND_ADMIN = Actor("local-admin:second", frozenset({"sysadmin"}), client_address="cli")
ONE_TIME = "Initial-Pass#2041"
PASSWORD = "Quiet-Harbour#5512"


def create(ledger: Ledger, username: str, *, department: str = "sales",
           password: str = ONE_TIME, employee_id: str | None = None) -> dict[str, Any]:
    return ledger.bus.execute(CreateAccount(
        username=username, employee_id=employee_id or f"E-{username}", department=department,
        initial_password=password), ADMIN)


def grant(ledger: Ledger, username: str, *roles: str) -> None:
    """Grant each role, with a second administrator's approval where the policy needs one."""
    for role in roles:
        outcome = ledger.bus.execute(GrantRole(username=username, role=role), ADMIN)
        if not outcome["result"]["active"]:
            ledger.bus.execute(ApproveGrant(username=username, role=role), SECOND_ADMIN)


def open_account(ledger: Ledger, username: str, *roles: str, department: str = "sales",
                 password: str = PASSWORD) -> Actor:
    """An account holding ``roles`` whose owner has replaced the one-time password."""
    create(ledger, username, department=department)
    grant(ledger, username, *roles)
    ledger.bus.execute(ChangePassword(username=username, current_password=ONE_TIME,
                                      new_password=password), Actor(username))
    return ledger.access.identity.actor_for(username)


def enrolled(ledger: Ledger, clock: FixedClock, username: str) -> bytes:
    """``username`` with a confirmed authenticator; the clock moved on a step."""
    identity = ledger.access.identity
    actor = identity.actor_for(username, "127.0.0.1")
    identity.begin_totp_enrolment(actor)
    secret = ledger.access.credentials.totp_secret(username)
    assert secret is not None
    identity.confirm_totp_enrolment(actor, totp.code_at(secret[0], clock.now.timestamp()))
    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    return secret[0]


def failing_logins(ledger: Ledger, clock: FixedClock) -> dict[str, tuple[str, str, str | None]]:
    """One login (username, password, TOTP code) per way of failing, keyed by the reason
    its audit record gives: li.na has a second factor, zhao.lei is locked, qian.hui is
    disabled."""
    for username in ("li.na", "zhao.lei", "qian.hui"):
        open_account(ledger, username, "sales")
    ledger.bus.execute_named("lock-account", {"username": "zhao.lei"}, ADMIN)
    ledger.bus.execute_named("disable-account", {"username": "qian.hui"}, ADMIN)
    secret = enrolled(ledger, clock, "li.na")
    code = totp.code_at(secret, clock.now.timestamp())
    ledger.access.identity.login("li.na", PASSWORD, code, "127.0.0.1")  # the code is used now
    return {"unknown_user": ("nobody", PASSWORD, code),
            "wrong_password": ("li.na", "Wrong-Guess#0000", code),
            "totp_missing": ("li.na", PASSWORD, None),
            "wrong_totp": ("li.na", PASSWORD, f"{(int(code) + 1) % 10**6:06d}"),
            "totp_replayed": ("li.na", PASSWORD, code),
            "locked": ("zhao.lei", PASSWORD, None),
            "disabled": ("qian.hui", PASSWORD, None)}

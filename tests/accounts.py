"""Test helpers for accounts: administrators, and accounts ready to log in with given roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commands.accounts import ChangePassword, CreateAccount
from commands.actor import Actor
from commands.roles import ApproveGrant, GrantRole
from commands.totp_enrolment import ConfirmTotpEnrolment, StartTotpEnrolment
from commands.training import RecordAssessment
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


def start_totp_enrolment(ledger: Ledger, actor: Actor, **ids: Any) -> dict[str, Any]:
    """Start enrolling a second factor through the bus, as POST /auth/totp/enrol does: the
    secret and its otpauth URI."""
    ledger.bus.execute(StartTotpEnrolment(username=actor.id, **ids), actor)
    return ledger.access.totp.provisioning(actor.id)


def confirm_totp_enrolment(ledger: Ledger, actor: Actor, code: str, **ids: Any
                           ) -> dict[str, Any]:
    """Confirm the enrolment through the bus; the command's outcome."""
    return ledger.bus.execute(ConfirmTotpEnrolment(username=actor.id, code=code, **ids), actor)


def enrolled(ledger: Ledger, clock: FixedClock, username: str) -> bytes:
    """``username`` with a confirmed authenticator; the clock moved on a step."""
    actor = ledger.access.identity.actor_for(username, "127.0.0.1")
    start_totp_enrolment(ledger, actor)
    secret = ledger.access.credentials.totp_secret(username)
    assert secret is not None
    confirm_totp_enrolment(ledger, actor, totp.code_at(secret[0], clock.now.timestamp()))
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


def two_administrators(ledger: Ledger) -> None:
    """Administrator accounts ops.one and ops.two, each assessed in system administration:
    from now on grants are checked against training (the initial administrator's exemption
    ends with the second one, TR-3)."""
    for username in ("ops.one", "ops.two"):
        create(ledger, username, department="it")
        assessed(ledger, username, "system-administration")
        grant(ledger, username, "sysadmin")


def assessed(ledger: Ledger, username: str, course: str = "customer-data-handling", *,
             score: int = 92, on: str = "2026-11-02") -> dict[str, Any]:
    """Record ``username``'s assessment by the local administrator; the command's outcome."""
    return ledger.bus.execute(RecordAssessment(username=username, course=course, score=score,
                                               assessed_on=on), ADMIN)

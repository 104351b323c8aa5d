"""Test helpers for accounts: administrators, and accounts ready to log in with given roles."""

from __future__ import annotations

from typing import Any

from commands.accounts import ChangePassword, CreateAccount
from commands.bus import Actor
from commands.roles import ApproveGrant, GrantRole
from commands.totp_enrolment import ConfirmTotpEnrolment, StartTotpEnrolment
from service.bootstrap import Ledger

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

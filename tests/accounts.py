"""Test helpers for accounts: administrators, and accounts ready to log in with given roles."""

from __future__ import annotations

from typing import Any

from commands.accounts import ApproveGrant, ChangePassword, CreateAccount, GrantRole
from commands.bus import Actor
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

"""Role commands (AC-2, AC-4, IR-1) and their handlers, one per command: grant a role
(a high-privilege one waits for a second person's approval), approve the grant, revoke one
role or all, lock every account holding a role; and opening an account with its roles."""

from __future__ import annotations

from commands.accounts import (
    AccountCommand,
    CreateAccount,
    Role,
    load_account,
    load_registry,
    open_account,
)
from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from commands.training import grant_requirement
from ledger.domain.account import Account, AccountStatus, LockReason
from ledger.domain.errors import NotFoundError

__all__ = ["ApproveGrant", "GrantRole", "LockRole", "RevokeAllRoles", "RevokeRole", "Role"]


class GrantRole(AccountCommand):
    """Grant a role; a high-privilege role waits for a second person's approval (AC-2)."""

    name = "grant-role"
    role: Role


class ApproveGrant(AccountCommand):
    """Approve a waiting grant of a high-privilege role (not your own request)."""

    name = "approve-grant"
    role: Role


class RevokeRole(AccountCommand):
    """Revoke one role, active or awaiting approval."""

    name = "revoke-role"
    role: Role


class RevokeAllRoles(AccountCommand):
    """Revoke every role of an account in one step, e.g. on a change of job (AC-4)."""

    name = "revoke-all-roles"


class LockRole(Command):
    """Lock every account holding a role, in one audited step (IR-1)."""

    name = "lock-role"
    role: Role

    @property
    def audit_target(self) -> str:
        return f"role:{self.role}"


def _grant(uow: UnitOfWork, account: Account, role: str) -> Result:
    needs_approval = role in uow.policy.access.high_privilege_roles
    # TR-3: the grant relies on a passed, unexpired assessment, or is refused naming it.
    assessment, exemption = grant_requirement(uow, account, role)
    grant_id = account.grant(role, by=uow.actor, needs_approval=needs_approval,
                             assessment=assessment, exemption=exemption)
    return {"username": account.username, "role": role, "grant_id": grant_id,
            "active": not needs_approval, "assessment": assessment, "exemption": exemption}


def create_account(command: CreateAccount, uow: UnitOfWork) -> Result:
    account = open_account(command, uow)
    # In the same unit of work: a grant refused (training, say) leaves no account behind.
    grants = [_grant(uow, account, role) for role in command.roles]
    return {"username": command.username, "must_change_password": True, "grants": grants}


def grant_role(command: GrantRole, uow: UnitOfWork) -> Result:
    return _grant(uow, load_account(uow, command.username), command.role)


def approve_grant(command: ApproveGrant, uow: UnitOfWork) -> Result:
    load_account(uow, command.username).approve_grant(command.role, by=uow.actor)
    return {"username": command.username, "role": command.role, "active": True}


def revoke_role(command: RevokeRole, uow: UnitOfWork) -> Result:
    revoked = load_account(uow, command.username).revoke([command.role], by=uow.actor)
    if not revoked:
        raise NotFoundError("the account holds no such role", details={"role": command.role})
    return {"username": command.username, "revoked": revoked}


def revoke_all_roles(command: RevokeAllRoles, uow: UnitOfWork) -> Result:
    account = load_account(uow, command.username)
    return {"username": command.username,
            "revoked": account.revoke(sorted(account.grants), by=uow.actor)}


def lock_role(command: LockRole, uow: UnitOfWork) -> Result:
    locked = []
    for username in load_registry(uow).usernames:
        if username == uow.actor:
            continue  # the responder keeps their own access to finish the response
        account = load_account(uow, username)
        if command.role in account.active_roles and account.status is AccountStatus.ACTIVE:
            account.lock(reason=LockReason.INCIDENT, by=uow.actor)
            locked.append(username)
    return {"role": command.role, "locked": locked}


HANDLERS: dict[type[Command], Handler] = {
    CreateAccount: create_account,
    GrantRole: grant_role,
    ApproveGrant: approve_grant,
    RevokeRole: revoke_role,
    RevokeAllRoles: revoke_all_roles,
    LockRole: lock_role,
}

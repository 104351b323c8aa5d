"""Account commands (LG-1, LG-3, IR-1) and their handlers, one per command: open an account,
change or reset its password, lock, unlock or disable it. Roles, and opening an account
with its roles, are in ``commands.roles``.

Passwords travel as ``SecretStr``: they never reach a log, an error message, a command's
fingerprint or its stored outcome; only their argon2id hash enters an event.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.domain.account import (
    REGISTRY_ID,
    Account,
    AccountRegistry,
    AccountStatus,
    LockReason,
    account_id,
)
from ledger.domain.errors import ConflictError, NotFoundError, Problem, ValidationFailedError
from ledger.domain.messages import message
from ledger.passwords import check_password, passwords_for
from ledger.policy_access import ROLES

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")


def _username(value: str) -> str:
    if not _USERNAME.match(value):
        raise ValueError("3-64 lower-case letters, digits, '.', '_' or '-'")
    return value


Username = Annotated[str, AfterValidator(_username)]
Password = Annotated[SecretStr, Field(min_length=1, max_length=1024)]


class AccountCommand(Command):
    """A command on one account; the account is its audited target."""

    username: Username

    @property
    def audit_target(self) -> str:
        return self.username


def _role(value: str) -> str:
    if value not in ROLES:
        raise ValueError(message("unknown role; one of {roles}", roles=", ".join(ROLES)))
    return value


Role = Annotated[str, AfterValidator(_role)]


def _distinct(roles: list[str]) -> list[str]:
    if len(set(roles)) != len(roles):
        raise ValueError(message("names a role more than once"))
    return roles


class OpeningAccount(AccountCommand):
    """What every command that opens an account gives: the employee and a one-time password
    to change at first login."""

    employee_id: str = Field(min_length=1, max_length=50)
    department: str = Field(min_length=1, max_length=100)
    initial_password: Password


class CreateAccount(OpeningAccount):
    """Open an account for an employee, with a one-time password to change at first login,
    and grant it ``roles`` in the same step: all of them, or no account at all."""

    name = "create-account"
    roles: Annotated[list[Role], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=len(ROLES),
        description="Roles granted with the account, each as grant-role would grant it "
                    "(a high-privilege one waits for approval); the creator must be "
                    "allowed grant-role too.")

    def implied_operations(self) -> tuple[str, ...]:
        return ("grant-role",) if self.roles else ()


class CreateFirstAdministrator(OpeningAccount):
    """Open the first administrator account (``ledger init``), if no administrator exists."""

    name = "create-first-administrator"


class ChangePassword(AccountCommand):
    """Change your own password, giving the current one."""

    name = "change-password"
    current_password: Password
    new_password: Password


class ResetPassword(AccountCommand):
    """Set a new one-time password for an account (an administrator's step)."""

    name = "reset-password"
    one_time_password: Password


class LockAccount(AccountCommand):
    """Lock an account at once (IR-1)."""

    name = "lock-account"


class UnlockAccount(AccountCommand):
    """Unlock a locked account and clear its failed-login count (LG-3)."""

    name = "unlock-account"


class ReportCompromise(AccountCommand):
    """Report that an account's credentials are compromised: it is locked at once (LG-3)."""

    name = "report-compromise"


class DisableAccount(AccountCommand):
    """Disable an account for good (the employee left)."""

    name = "disable-account"


# Loading ---------------------------------------------------------------------

def load_account(uow: UnitOfWork, username: str) -> Account:
    account = uow.get(account_id(username))
    if not isinstance(account, Account):
        raise NotFoundError("no account with this username", details={"username": username})
    uow.add(account)
    return account


def load_registry(uow: UnitOfWork) -> AccountRegistry:
    registry = uow.get(REGISTRY_ID)
    if registry is None:
        return AccountRegistry.start()
    if not isinstance(registry, AccountRegistry):  # pragma: no cover - fixed id
        raise TypeError("the account registry id holds something else")
    return registry


# Handlers --------------------------------------------------------------------

def open_account(command: OpeningAccount, uow: UnitOfWork) -> Account:
    password = command.initial_password.get_secret_value()
    check_password(password, command.username, uow.policy.passwords, "initial_password")
    registry = load_registry(uow)
    registry.add(command.username, command.employee_id)
    account = Account.create(username=command.username, employee_id=command.employee_id,
                             department=command.department,
                             password_hash=passwords_for(uow.policy.passwords).hash(password))
    uow.add(account)
    uow.add(registry)
    return account


def create_first_administrator(command: CreateFirstAdministrator, uow: UnitOfWork) -> Result:
    registry = load_registry(uow)
    for username in registry.usernames:
        other = uow.get(account_id(username))
        if (isinstance(other, Account) and "sysadmin" in other.active_roles
                and other.status is not AccountStatus.DISABLED):
            raise ConflictError("an administrator account exists already",
                                details={"username": username})
    account = open_account(command, uow)
    # No second administrator exists to approve this one grant: the trusted local
    # administrator's act is its own approval, and is audited as such.
    # Nor can anyone have assessed it yet: the initial administrator is exempt from the
    # training check until a second administrator exists (TR-3, README "Training").
    account.grant("sysadmin", by=uow.actor, needs_approval=False,
                  exemption="initial_administrator")
    return {"username": command.username, "must_change_password": True, "roles": ["sysadmin"]}


def change_password(command: ChangePassword, uow: UnitOfWork) -> Result:
    account = load_account(uow, command.username)
    passwords = passwords_for(uow.policy.passwords)
    if not passwords.verify(account.password_hash, command.current_password.get_secret_value()):
        raise ValidationFailedError([Problem("current_password", "is not correct")])
    new = command.new_password.get_secret_value()
    check_password(new, command.username, uow.policy.passwords)
    if passwords.verify(account.password_hash, new):
        raise ValidationFailedError([Problem("new_password", "must differ from the current")])
    # The owner's own change ends their other sessions, not the one they made it in.
    kept = uow.session if uow.actor == command.username else None
    account.change_password(passwords.hash(new), kept_session=kept)
    return {"username": command.username}


def reset_password(command: ResetPassword, uow: UnitOfWork) -> Result:
    password = command.one_time_password.get_secret_value()
    check_password(password, command.username, uow.policy.passwords, "one_time_password")
    account = load_account(uow, command.username)
    account.change_password(passwords_for(uow.policy.passwords).hash(password), one_time=True)
    return {"username": command.username, "must_change_password": True}


def lock_account(command: LockAccount, uow: UnitOfWork) -> Result:
    load_account(uow, command.username).lock(reason=LockReason.ADMINISTRATOR, by=uow.actor)
    return {"username": command.username, "status": AccountStatus.LOCKED.value}


def unlock_account(command: UnlockAccount, uow: UnitOfWork) -> Result:
    load_account(uow, command.username).unlock(by=uow.actor)
    return {"username": command.username, "status": AccountStatus.ACTIVE.value}


def report_compromise(command: ReportCompromise, uow: UnitOfWork) -> Result:
    load_account(uow, command.username).lock(reason=LockReason.COMPROMISE_REPORTED,
                                             by=uow.actor)
    return {"username": command.username, "status": AccountStatus.LOCKED.value}


def disable_account(command: DisableAccount, uow: UnitOfWork) -> Result:
    load_account(uow, command.username).disable(by=uow.actor)
    return {"username": command.username, "status": AccountStatus.DISABLED.value}


HANDLERS: dict[type[Command], Handler] = {
    CreateFirstAdministrator: create_first_administrator,
    ChangePassword: change_password,
    ResetPassword: reset_password,
    LockAccount: lock_account,
    UnlockAccount: unlock_account,
    ReportCompromise: report_compromise,
    DisableAccount: disable_account,
}

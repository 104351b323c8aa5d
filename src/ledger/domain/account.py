"""Employee accounts (LG-1, LG-3) and their role grants (AC-2, AC-4), as events.

An account's id derives from its username, so the event store's unique key makes usernames
unique on every backend. The registry lists every account (and employee id) so that one
employee has one account and an incident can reach every holder of a role (IR-1).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from ledger.domain.errors import ConflictError, WorkflowViolationError
from ledger.domain.events import LedgerAggregate
from ledger.domain.messages import N_
from ledger.domain.training import AccountTraining

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:customer-ledger:account")
REGISTRY_ID = uuid5(_NAMESPACE, "registry")


def account_id(username: str) -> UUID:
    return uuid5(_NAMESPACE, username)


class AccountStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    DISABLED = "disabled"


class LockReason(StrEnum):
    ADMINISTRATOR = "administrator"
    FAILED_LOGINS = "failed_logins"
    COMPROMISE_REPORTED = "compromise_reported"
    INCIDENT = "incident"


class Account(LedgerAggregate, AccountTraining):
    """One employee's account: credentials state, status, role grants, and training
    (``ledger.domain.training``)."""

    class Created(LedgerAggregate.Created):
        username: str
        employee_id: str
        department: str
        password_hash: str

        def apply(self, account: Account) -> None:
            account.username = self.username
            account.employee_id = self.employee_id
            account.department = self.department
            account.password_hash = self.password_hash
            account.must_change_password = True
            account.password_changed_at = self.timestamp
            account.created_at = self.timestamp

    class PasswordChanged(LedgerAggregate.Event):
        """A new password: a one-time one set by an administrator (``one_time``), or the
        owner's own change, made in the session ``kept_session`` (None: no session)."""

        password_hash: str
        one_time: bool
        kept_session: str | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["kept_session"] = None  # before sessions were ended by a change

        def apply(self, account: Account) -> None:
            account.password_hash = self.password_hash
            account.must_change_password = self.one_time
            account.password_changed_at = self.timestamp
            account.end_sessions(self.originator_version, keep=self.kept_session)

    class Locked(LedgerAggregate.Event):
        reason: str
        locked_by: str

        def apply(self, account: Account) -> None:
            account.status = AccountStatus.LOCKED
            account.lock_reason = self.reason
            account.end_sessions(self.originator_version)

    class Unlocked(LedgerAggregate.Event):
        unlocked_by: str

        def apply(self, account: Account) -> None:
            account.status = AccountStatus.ACTIVE
            account.lock_reason = None
            account.unlocked_at = self.timestamp

    class Disabled(LedgerAggregate.Event):
        disabled_by: str

        def apply(self, account: Account) -> None:
            account.status = AccountStatus.DISABLED
            account.end_sessions(self.originator_version)

    class RoleGrantRequested(LedgerAggregate.Event):
        """A grant, with the assessment it relied on (TR-3), or the exemption it was made
        under (``initial_administrator``), or neither (before grants were checked)."""

        grant_id: str
        role: str
        requested_by: str
        needs_approval: bool
        assessment: dict[str, Any] | None
        exemption: str | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["assessment"] = None  # granted before grants were checked against training
            state["exemption"] = None

        def apply(self, account: Account) -> None:
            account.grants[self.role] = {
                "grant_id": self.grant_id, "role": self.role, "requested_by": self.requested_by,
                "requested_at": self.timestamp.isoformat(), "approved_by": None,
                "active": not self.needs_approval,
                "active_since": None if self.needs_approval else self.timestamp.isoformat(),
                "assessment": self.assessment, "exemption": self.exemption,
                "suspended": False, "suspended_since": None,
            }

    class RoleGrantApproved(LedgerAggregate.Event):
        grant_id: str
        role: str
        approved_by: str

        def apply(self, account: Account) -> None:
            grant = account.grants[self.role]
            grant |= {"approved_by": self.approved_by, "active": True,
                      "active_since": self.timestamp.isoformat()}

    class RoleRevoked(LedgerAggregate.Event):
        roles: list[str]
        revoked_by: str

        def apply(self, account: Account) -> None:
            for role in self.roles:
                account.grants.pop(role, None)

    class SecondFactorResetRequested(LedgerAggregate.Event):
        """A reset of a high-privilege account's second factor, awaiting a second
        administrator's approval (LG-4, AC-2)."""

        requested_by: str

        def apply(self, account: Account) -> None:
            account.second_factor_reset_requested_by = self.requested_by

    class SecondFactorReset(LedgerAggregate.Event):
        """The account's second factor is gone (a lost authenticator): its sessions end,
        and its next login must enrol a new one, whatever its roles."""

        requested_by: str
        approved_by: str | None

        def apply(self, account: Account) -> None:
            account.second_factor_reset_requested_by = None
            account.must_enrol_second_factor = True
            account.end_sessions(self.originator_version)

    def __init__(self) -> None:
        self.username = ""
        self.employee_id = ""
        self.department = ""
        self.password_hash = ""
        self.must_change_password = True
        self.password_changed_at: datetime | None = None
        self.status = AccountStatus.ACTIVE
        self.lock_reason: str | None = None
        self.unlocked_at: datetime | None = None
        self.grants: dict[str, dict[str, Any]] = {}
        self.trainings: list[dict[str, Any]] = []
        self.assessments: list[dict[str, Any]] = []
        self.created_at: datetime | None = None
        # Sessions opened on an earlier version than this are void for good (see
        # ``end_sessions``); but ``kept_session`` stays valid if it was at ``kept_from``.
        self.sessions_valid_from = 0
        self.kept_session: str | None = None
        self.kept_from = 0
        # Set by a reset of the second factor: from then on the account needs one.
        self.must_enrol_second_factor = False
        self.second_factor_reset_requested_by: str | None = None

    # Decisions ---------------------------------------------------------------

    @classmethod
    def create(cls, *, username: str, employee_id: str, department: str,
               password_hash: str) -> Account:
        """Open an account whose first password is a one-time password (LG-1)."""
        account: Account = cls._create(cls.Created, id=account_id(username), username=username,
                                       employee_id=employee_id, department=department,
                                       password_hash=password_hash)
        return account

    def change_password(self, password_hash: str, *, one_time: bool = False,
                        kept_session: str | None = None) -> None:
        """A one-time password ends every session; the owner's own change ends all but
        ``kept_session``, the one the change was made in."""
        self.check_not_disabled()
        self.trigger_event(self.PasswordChanged, password_hash=password_hash, one_time=one_time,
                           kept_session=None if one_time else kept_session)

    def lock(self, *, reason: LockReason, by: str) -> None:
        self.check_not_disabled()
        if self.status is AccountStatus.LOCKED:
            return
        self.trigger_event(self.Locked, reason=reason.value, locked_by=by)

    def unlock(self, *, by: str) -> None:
        self.check_not_disabled()
        if self.status is not AccountStatus.LOCKED:
            raise WorkflowViolationError("the account is not locked")
        self.trigger_event(self.Unlocked, unlocked_by=by)

    def disable(self, *, by: str) -> None:
        self.check_not_disabled()
        self.trigger_event(self.Disabled, disabled_by=by)

    def grant(self, role: str, *, by: str, needs_approval: bool,
              assessment: dict[str, Any] | None = None, exemption: str | None = None) -> str:
        """Grant a role; a high-privilege one stays inactive until approved (AC-2). The
        grant names the assessment it relied on, or the exemption it was made under (TR-3)."""
        self.check_not_disabled()
        if by == self.username:
            raise WorkflowViolationError("no one may grant a role to themselves")
        if role in self.grants:
            raise ConflictError(N_("the account already holds this role")
                                if self.grants[role]["active"]
                                else N_("the account already awaits approval of this role"),
                                details={"role": role})
        grant_id = str(uuid4())
        self.trigger_event(self.RoleGrantRequested, grant_id=grant_id, role=role,
                           requested_by=by, needs_approval=needs_approval,
                           assessment=assessment, exemption=exemption)
        return grant_id

    def approve_grant(self, role: str, *, by: str) -> None:
        """The second person's approval: never the requester, never the grantee."""
        grant = self.grants.get(role)
        if grant is None or grant["active"]:
            raise WorkflowViolationError("no grant of this role awaits approval",
                                         details={"role": role})
        if by in (grant["requested_by"], self.username):
            # On a new installation the one administrator cannot be that second person:
            # the message names the way out (README, "Grants").
            raise WorkflowViolationError(
                "a grant must be approved by a second person, not its requester or grantee; "
                "while there is only one administrator, the local administrator on the "
                "server is the other person: `ledger account approve-grant USERNAME ROLE` "
                "there approves a grant requested over HTTP (and `ledger account grant` "
                "requests one for an administrator to approve over HTTP)",
                details={"role": role})
        self.check_not_disabled()
        self.trigger_event(self.RoleGrantApproved, grant_id=grant["grant_id"], role=role,
                           approved_by=by)

    def revoke(self, roles: list[str], *, by: str) -> list[str]:
        """Revoke the named roles (active or awaiting approval); return those revoked."""
        held = sorted(role for role in roles if role in self.grants)
        if held:
            self.trigger_event(self.RoleRevoked, roles=held, revoked_by=by)
        return held

    def reset_second_factor(self, *, by: str, needs_approval: bool) -> bool:
        """Remove the account's second factor, by an administrator other than its owner;
        a high-privilege account's waits for a second administrator (``needs_approval``).
        Returns whether the reset is done now."""
        self.check_not_disabled()
        if by == self.username:
            raise WorkflowViolationError("no one may reset their own second factor: another "
                                         "administrator does it")
        if self.second_factor_reset_requested_by is not None:
            raise ConflictError("a reset of this account's second factor awaits approval "
                                "already")
        if needs_approval:
            self.trigger_event(self.SecondFactorResetRequested, requested_by=by)
            return False
        self.trigger_event(self.SecondFactorReset, requested_by=by, approved_by=None)
        return True

    def approve_second_factor_reset(self, *, by: str) -> None:
        """The second administrator's approval: never the requester, never the owner."""
        requested_by = self.second_factor_reset_requested_by
        if requested_by is None:
            raise WorkflowViolationError("no reset of this account's second factor awaits "
                                         "approval")
        if by in (requested_by, self.username):
            raise WorkflowViolationError("a reset of a second factor is approved by a second "
                                         "administrator, not its requester or the account's "
                                         "owner")
        self.check_not_disabled()
        self.trigger_event(self.SecondFactorReset, requested_by=requested_by, approved_by=by)

    # Guards and state --------------------------------------------------------

    def end_sessions(self, at_version: int, *, keep: str | None = None) -> None:
        """Void every session opened on a version before ``at_version``, for good: a lock,
        a disable, a new password or a reset of the second factor ends them, and an unlock
        does not bring them back.
        ``keep`` survives only if it was valid until now."""
        kept_from = self.sessions_valid_from if keep is not None and (
            keep != self.kept_session) else self.kept_from
        self.sessions_valid_from = at_version
        self.kept_session = keep
        self.kept_from = kept_from

    def session_valid(self, opened_at_version: int, session: str) -> bool:
        """Whether a session opened on this account at ``opened_at_version`` (the version
        its login checked) may still act: no lock, disable or password change since."""
        if opened_at_version >= self.sessions_valid_from:
            return True
        return session == self.kept_session and opened_at_version >= self.kept_from

    def check_not_disabled(self) -> None:
        if self.status is AccountStatus.DISABLED:
            raise WorkflowViolationError("the account is disabled")

    @property
    def active_roles(self) -> frozenset[str]:
        # A suspended grant (its assessment expired, TR-3) authorises nothing.
        return frozenset(role for role, grant in self.grants.items()
                         if grant["active"] and not grant.get("suspended"))

    def as_dict(self) -> dict[str, Any]:
        return {"username": self.username, "employee_id": self.employee_id,
                "department": self.department, "status": self.status.value,
                "lock_reason": self.lock_reason,
                "must_change_password": self.must_change_password,
                "roles": sorted(self.active_roles),
                "grants": [dict(grant) for _, grant in sorted(self.grants.items())]}


class AccountRegistry(LedgerAggregate):
    """Every account's username and employee id: one account per employee (LG-1)."""

    class Started(LedgerAggregate.Created):
        pass

    class AccountAdded(LedgerAggregate.Event):
        username: str
        employee_id: str

        def apply(self, registry: AccountRegistry) -> None:
            registry.usernames.append(self.username)
            registry.employee_ids[self.employee_id] = self.username

    def __init__(self) -> None:
        self.usernames: list[str] = []
        self.employee_ids: dict[str, str] = {}

    @classmethod
    def start(cls) -> AccountRegistry:
        registry: AccountRegistry = cls._create(cls.Started, id=REGISTRY_ID)
        return registry

    def add(self, username: str, employee_id: str) -> None:
        if username in self.usernames:
            raise ConflictError("an account with this username already exists",
                                details={"username": username})
        if employee_id in self.employee_ids:
            raise ConflictError("this employee already has an account",
                                details={"employee_id": employee_id})
        self.trigger_event(self.AccountAdded, username=username, employee_id=employee_id)

"""The shape of each account query's answer (see ``projections.answers``)."""

from __future__ import annotations

from pydantic import Field

from projections.answers import Answer, Reflecting
from projections.training_queries import ExpiringGrant


class AccountState(Answer):
    username: str
    employee_id: str
    department: str
    status: str = Field(description="active, locked or disabled")
    lock_reason: str | None
    must_change_password: bool
    created_at: str
    password_changed_at: str | None
    last_login_at: str | None


class ListedAccount(AccountState):
    roles: list[str] = Field(description="The roles it holds now.")


class AccountsAnswer(Reflecting):
    accounts: list[ListedAccount]


class Grant(Answer):
    role: str
    active: bool = Field(description="False while it awaits a second person's approval.")
    requested_by: str | None
    requested_at: str | None
    approved_by: str | None
    active_since: str | None
    last_used_on: str | None
    suspended: bool = Field(description="Suspended: no passed, unexpired assessment covers "
                                        "it (TR-3); it authorises nothing.")
    exemption: str | None = Field(description="initial_administrator: granted without an "
                                              "assessment before a second administrator "
                                              "existed.")


class AccountDetail(AccountState):
    grants: list[Grant]


class AccountAnswer(Reflecting):
    account: AccountDetail


class ReviewedGrant(Grant):
    unused: bool = Field(description="Active, and unused for the policy's days.")


class ReviewedAccount(AccountState):
    grants: list[ReviewedGrant]
    last_used_on: str | None = Field(description="The last day it used any role.")


class UnusedGrant(Answer):
    username: str
    role: str
    last_used_on: str | None
    active_since: str | None


class SuspendedGrant(Answer):
    username: str
    role: str


class AccessReviewAnswer(Reflecting):
    as_of: str
    unused_days: int
    accounts: list[ReviewedAccount]
    unused_grants: list[UnusedGrant]
    suspended_grants: list[SuspendedGrant]
    expiring_grants: list[ExpiringGrant] = Field(description=(
        "Grants whose cover ends within the policy's training.warning_days (TR-3)."))

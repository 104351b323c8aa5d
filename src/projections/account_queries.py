"""Queries over accounts: the list, one account, and the periodic access review (AC-3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ledger.domain.errors import NotFoundError
from ledger.domain.messages import message
from ledger.policy_access import ROLES
from ledger.policy_training import TrainingPolicy
from ledger.sql import Cursor
from projections.account_answers import AccessReviewAnswer, AccountAnswer, AccountsAnswer
from projections.queries import Query
from projections.reading import ReadModels
from projections.runner import ProjectionRunner
from projections.training_queries import upcoming_expiries

_ACCOUNT_COLUMNS = ("username, employee_id, department, status, lock_reason, "
                    "must_change_password, created_at, password_changed_at, last_login_at")


class ListAccounts(Query):
    """Every account with its state and active roles, optionally only holders of a role."""

    name = "list-accounts"
    answer = AccountsAnswer
    role: str | None = Field(default=None, max_length=50,
                             description="Only the holders of this role (AC-1).")
    limit: int = Field(default=500, ge=1, le=5000, description="At most this many.")

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str | None) -> str | None:
        # A misspelt role would list no one, as if nobody held it.
        if role is not None and role not in ROLES:
            raise ValueError(message("unknown role; one of {roles}", roles=", ".join(ROLES)))
        return role


class GetAccount(Query):
    """One account: its state and every grant, active or awaiting approval."""

    name = "get-account"
    answer = AccountAnswer
    username: str = Field(min_length=1, max_length=100)

    @property
    def audit_target(self) -> str:
        return self.username


class AccessReview(Query):
    """Every account's roles, grant dates and last use; grants unused for the policy's days."""

    name = "access-review"
    answer = AccessReviewAnswer
    as_of: date | None = None


ACCOUNT_QUERIES: dict[str, type[Query]] = {
    cls.name: cls for cls in (ListAccounts, GetAccount, AccessReview)
}


def _account(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = _ACCOUNT_COLUMNS.split(", ")
    account = dict(zip(keys, row, strict=True))
    account["must_change_password"] = bool(account["must_change_password"])
    return account


class AccountQueries:
    """Answers the account queries from the ``accounts`` read model and the usage table."""

    def __init__(self, runner: ProjectionRunner, wait_timeout: float, unused_days: int,
                 today: Callable[[], date] = date.today,
                 training: TrainingPolicy | None = None) -> None:
        self.read = ReadModels(runner, wait_timeout)
        self.unused_days = unused_days
        self.today = today
        self.training = training

    def _grants(self, cursor: Cursor, username: str | None = None) -> dict[str, list[Any]]:
        where = "WHERE g.username = :user " if username else ""
        rows = cursor.all(
            "SELECT g.username, g.role, g.active, g.requested_by, g.requested_at,"  # noqa: S608
            " g.approved_by, g.active_since, u.last_used_on, g.suspended, g.exemption"
            " FROM account_grants g"
            " LEFT JOIN role_usage u ON u.username = g.username AND u.role = g.role "
            + where + "ORDER BY g.username, g.role", {"user": username})
        grants: dict[str, list[Any]] = {}
        for row in rows:
            grants.setdefault(row[0], []).append(
                {"role": row[1], "active": bool(row[2]), "requested_by": row[3],
                 "requested_at": row[4], "approved_by": row[5], "active_since": row[6],
                 "last_used_on": row[7], "suspended": bool(row[8]), "exemption": row[9]})
        return grants

    def list_accounts(self, query: ListAccounts) -> dict[str, Any]:
        with self.read.reading(query, "accounts") as (cursor, position):
            rows = cursor.all(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts "  # noqa: S608
                              "ORDER BY username LIMIT :limit", {"limit": query.limit})
            grants = self._grants(cursor)
        accounts = []
        for row in rows:
            account = _account(row)
            account["roles"] = [g["role"] for g in grants.get(account["username"], [])
                                if g["active"] and not g["suspended"]]
            if query.role is None or query.role in account["roles"]:
                accounts.append(account)
        return {"accounts": accounts, "reflects_position": position}

    def get_account(self, query: GetAccount) -> dict[str, Any]:
        with self.read.reading(query, "accounts") as (cursor, position):
            row = cursor.one(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts "  # noqa: S608
                             "WHERE username = :user", {"user": query.username})
            grants = self._grants(cursor, query.username)
        if row is None:
            raise NotFoundError("no account with this username",
                                details={"username": query.username})
        account = _account(row) | {"grants": grants.get(query.username, [])}
        return {"account": account, "reflects_position": position}

    def access_review(self, query: AccessReview) -> dict[str, Any]:
        as_of = query.as_of or self.today()
        cutoff = (as_of - timedelta(days=self.unused_days)).isoformat()
        with self.read.reading(query, "accounts") as (cursor, position):
            rows = cursor.all(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts "  # noqa: S608
                              "ORDER BY username")
            grants = self._grants(cursor)
            expiring = (upcoming_expiries(cursor, self.training, as_of)
                        if self.training is not None else [])
        accounts, unused = [], []
        for row in rows:
            account = _account(row)
            held = grants.get(account["username"], [])
            for grant in held:
                since = (grant["last_used_on"] or (grant["active_since"] or "")[:10])
                grant["unused"] = bool(grant["active"] and since and since < cutoff)
                if grant["unused"]:
                    unused.append({"username": account["username"], "role": grant["role"],
                                   "last_used_on": grant["last_used_on"],
                                   "active_since": grant["active_since"]})
            used = [g["last_used_on"] for g in held if g["last_used_on"]]
            account["last_used_on"] = max(used, default=None)
            accounts.append(account | {"grants": held})
        suspended = [{"username": account["username"], "role": grant["role"]}
                     for account in accounts for grant in account["grants"]
                     if grant["suspended"]]
        return {"as_of": as_of.isoformat(), "unused_days": self.unused_days,
                "accounts": accounts, "unused_grants": unused,
                "suspended_grants": suspended, "expiring_grants": expiring,
                "reflects_position": position}

    def handlers(self) -> dict[type[BaseModel], Any]:
        return {ListAccounts: self.list_accounts, GetAccount: self.get_account,
                AccessReview: self.access_review}

"""Accounts and their grants (LG-1, AC-2, AC-3): one row per account, one per grant, and
one per assessment (TR-1..TR-3), with each grant's suspension."""

from __future__ import annotations

from typing import Any

from ledger.domain.access import AccessRecord
from ledger.domain.account import Account
from ledger.domain.training import AssessmentRecorded, GrantSuspended, GrantSuspensionLifted
from ledger.sql import Cursor
from projections.projection import EventByEventProjection, topic_of


class AccountsView(EventByEventProjection):
    """Who has an account, in which state, holding which roles since when."""

    name = "accounts"
    tables = ("accounts", "account_grants", "account_assessments")
    topics = frozenset(topic_of(cls) for cls in (
        Account.Created, Account.PasswordChanged, Account.Locked, Account.Unlocked,
        Account.Disabled, Account.RoleGrantRequested, Account.RoleGrantApproved,
        Account.RoleRevoked, AccessRecord.LoginSucceeded,
        AssessmentRecorded, GrantSuspended, GrantSuspensionLifted,
    ))
    # 2: grants' suspension and exemption, and the assessments (TR-1..TR-3).
    schema_version = 2

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS accounts (
                username TEXT PRIMARY KEY,
                account_id TEXT NOT NULL UNIQUE,
                employee_id TEXT NOT NULL,
                department TEXT NOT NULL,
                status TEXT NOT NULL,
                lock_reason TEXT,
                must_change_password INTEGER NOT NULL,
                created_at TEXT NOT NULL,
                password_changed_at TEXT NOT NULL,
                last_login_at TEXT,
                position BIGINT NOT NULL
            )""")
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS account_grants (
                username TEXT NOT NULL,
                role TEXT NOT NULL,
                grant_id TEXT NOT NULL,
                active INTEGER NOT NULL,
                requested_by TEXT NOT NULL,
                requested_at TEXT NOT NULL,
                approved_by TEXT,
                active_since TEXT,
                suspended INTEGER NOT NULL DEFAULT 0,
                exemption TEXT,
                position BIGINT NOT NULL,
                PRIMARY KEY (username, role)
            )""")
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS account_assessments (
                assessment_id TEXT PRIMARY KEY,
                username TEXT NOT NULL,
                course TEXT NOT NULL,
                score INTEGER NOT NULL,
                passed INTEGER NOT NULL,
                assessed_on TEXT NOT NULL,
                valid_until TEXT NOT NULL,
                position BIGINT NOT NULL
            )""")

    def apply(self, cursor: Cursor, event: Any, position: int) -> None:
        at = event.timestamp.isoformat()
        if isinstance(event, AccessRecord.LoginSucceeded):
            cursor.execute("UPDATE accounts SET last_login_at = :at WHERE username = :user",
                           {"at": at, "user": event.username})
            return
        common = {"id": str(event.originator_id), "at": at, "position": position}
        if isinstance(event, Account.Created):
            cursor.execute(
                "INSERT INTO accounts (username, account_id, employee_id, department, status,"
                " lock_reason, must_change_password, created_at, password_changed_at,"
                " last_login_at, position) VALUES (:user, :id, :employee, :department,"
                " 'active', NULL, 1, :at, :at, NULL, :position)",
                common | {"user": event.username, "employee": event.employee_id,
                          "department": event.department})
            return
        row = cursor.one("SELECT username FROM accounts WHERE account_id = :id", common)
        values = common | {"user": row[0] if row else ""}
        if isinstance(event, Account.PasswordChanged):
            self._update(cursor, "must_change_password = :once, password_changed_at = :at",
                         values | {"once": int(event.one_time)})
        elif isinstance(event, Account.Locked):
            self._update(cursor, "status = 'locked', lock_reason = :reason",
                         values | {"reason": event.reason})
        elif isinstance(event, Account.Unlocked):
            self._update(cursor, "status = 'active', lock_reason = NULL", values)
        elif isinstance(event, Account.Disabled):
            self._update(cursor, "status = 'disabled'", values)
        else:
            self._apply_grant(cursor, event, values)

    def _apply_grant(self, cursor: Cursor, event: Any, values: dict[str, Any]) -> None:
        if isinstance(event, Account.RoleGrantRequested):
            cursor.execute(
                "INSERT INTO account_grants (username, role, grant_id, active, requested_by,"
                " requested_at, approved_by, active_since, suspended, exemption, position)"
                " VALUES (:user, :role, :grant, :active, :by, :at, NULL, :since, 0,"
                " :exemption, :position)",
                values | {"role": event.role, "grant": event.grant_id,
                          "active": int(not event.needs_approval), "by": event.requested_by,
                          "since": None if event.needs_approval else values["at"],
                          "exemption": event.exemption})
        elif isinstance(event, Account.RoleGrantApproved):
            cursor.execute(
                "UPDATE account_grants SET active = 1, approved_by = :by, active_since = :at,"
                " position = :position WHERE username = :user AND role = :role",
                values | {"by": event.approved_by, "role": event.role})
        elif isinstance(event, Account.RoleRevoked):
            for role in event.roles:
                cursor.execute("DELETE FROM account_grants WHERE username = :user"
                               " AND role = :role", values | {"role": role})
        elif isinstance(event, GrantSuspended | GrantSuspensionLifted):
            cursor.execute(
                "UPDATE account_grants SET suspended = :suspended, position = :position"
                " WHERE username = :user AND role = :role",
                values | {"role": event.role,
                          "suspended": int(isinstance(event, GrantSuspended))})
        elif isinstance(event, AssessmentRecorded):
            cursor.execute(
                "INSERT INTO account_assessments (assessment_id, username, course, score,"
                " passed, assessed_on, valid_until, position) VALUES (:assessment, :user,"
                " :course, :score, :passed, :on, :until, :position)",
                values | {"assessment": event.assessment_id, "course": event.course,
                          "score": event.score, "passed": int(event.passed),
                          "on": event.assessed_on, "until": event.valid_until})

    @staticmethod
    def _update(cursor: Cursor, assignments: str, values: dict[str, Any]) -> None:
        cursor.execute(f"UPDATE accounts SET {assignments}, position = :position "  # noqa: S608
                       "WHERE username = :user", values)

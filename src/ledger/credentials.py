"""Operational login state in the ledger's database: failure counters (LG-3), sessions,
second-factor secrets and used codes (LG-4), and when each role was last used (AC-3).

This is state, not history: it changes on every login and is shared by every service
instance through the database, where unique keys (not process locks) make it hold: a
TOTP code can be used once across all instances, and a failure counter is one row.
Tokens are stored only as SHA-256 digests; TOTP secrets only sealed (``sealed_secrets``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ledger.domain.errors import LedgerError
from ledger.sealed_secrets import SecretSealer
from ledger.sql import Cursor, Row, SqlDatabase

TOTP = "totp"

TABLES = ("login_failures", "sessions", "totp_secrets", "totp_used_codes", "role_usage")


class AuthenticationError(LedgerError):
    """No valid session: no token, an expired or revoked one, or a failed login."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 9


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A live bearer-token session, opened on version ``account_version`` of its account
    (the version its login checked: a lock or a new password after it ends the session)."""

    digest: str
    username: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    account_version: int

    @property
    def reference(self) -> str:
        """The session's name in an account event (``Account.PasswordChanged``): not the
        token's digest, which is the key to the session's row."""
        return hashlib.sha256(f"session:{self.digest}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SessionState:
    """A session as authentication sees it: the session, its account's consecutive login
    failures (LG-3), and whether a TOTP secret is enrolled (None: none; False: awaiting
    confirmation; True: confirmed)."""

    session: Session
    failures: int
    last_failure_at: datetime | None
    totp_confirmed: bool | None


class CredentialStore:
    """Counters, sessions and TOTP records, one small statement each."""

    def __init__(self, db: SqlDatabase, sealer: SecretSealer) -> None:
        self.db = db
        self.sealer = sealer

    def create_tables(self) -> None:
        blob = "BYTEA" if self.db.dialect == "postgres" else "BLOB"
        with self.db.setup() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS login_failures (username TEXT PRIMARY"
                           " KEY, failures INTEGER NOT NULL, last_failure_at TEXT NOT NULL)")
            cursor.execute("CREATE TABLE IF NOT EXISTS sessions (digest TEXT PRIMARY KEY,"
                           " username TEXT NOT NULL, created_at TEXT NOT NULL,"
                           " expires_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,"
                           " client_address TEXT, account_version BIGINT NOT NULL)")
            self._add_account_version(cursor)
            cursor.execute("CREATE INDEX IF NOT EXISTS sessions_username ON sessions (username)")
            cursor.execute(f"CREATE TABLE IF NOT EXISTS totp_secrets (username TEXT PRIMARY KEY,"
                           f" secret {blob} NOT NULL, confirmed INTEGER NOT NULL,"
                           f" created_at TEXT NOT NULL)")
            cursor.execute("CREATE TABLE IF NOT EXISTS totp_used_codes (username TEXT NOT NULL,"
                           " step BIGINT NOT NULL, used_at TEXT NOT NULL,"
                           " PRIMARY KEY (username, step))")
            cursor.execute("CREATE TABLE IF NOT EXISTS role_usage (username TEXT NOT NULL,"
                           " role TEXT NOT NULL, last_used_on TEXT NOT NULL,"
                           " PRIMARY KEY (username, role))")

    def _add_account_version(self, cursor: Cursor) -> None:
        """Sessions tables made before sessions named their account's version gain it; a
        session from then counts as opened on version 0, so any lock, disable or password
        change of its account in the event log has ended it."""
        if self.db.dialect == "postgres":
            cursor.execute("ALTER TABLE sessions ADD COLUMN IF NOT EXISTS account_version"
                           " BIGINT NOT NULL DEFAULT 0")
            return
        columns = {row[0] for row in cursor.all("SELECT name FROM pragma_table_info('sessions')")}
        if "account_version" not in columns:
            cursor.execute("ALTER TABLE sessions ADD COLUMN account_version BIGINT NOT NULL"
                           " DEFAULT 0")

    # Failed logins (LG-3) ----------------------------------------------------

    def record_failure(self, username: str, now: datetime) -> int:
        """Count one more consecutive failure; return the count (atomic across instances)."""
        with self.db.transaction() as cursor:
            row = cursor.one(
                "INSERT INTO login_failures (username, failures, last_failure_at)"
                " VALUES (:user, 1, :now) ON CONFLICT (username) DO UPDATE"
                " SET failures = login_failures.failures + 1, last_failure_at = :now"
                " RETURNING failures", {"user": username, "now": now.isoformat()})
        return int(row[0]) if row else 1

    def failures(self, username: str) -> tuple[int, datetime | None]:
        with self.db.snapshot() as cursor:
            row = cursor.one("SELECT failures, last_failure_at FROM login_failures"
                             " WHERE username = :user", {"user": username})
        return (int(row[0]), datetime.fromisoformat(row[1])) if row else (0, None)

    def clear_failures(self, username: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM login_failures WHERE username = :user",
                           {"user": username})

    # Sessions ----------------------------------------------------------------

    def open_session(self, username: str, now: datetime, lifetime: timedelta,
                     client_address: str | None, account_version: int) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(token_digest(token), username, now, now + lifetime, now,
                          account_version)
        with self.db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO sessions (digest, username, created_at, expires_at, last_seen_at,"
                " client_address, account_version) VALUES (:digest, :user, :now, :expires,"
                " :now, :address, :version)",
                {"digest": session.digest, "user": username, "now": now.isoformat(),
                 "expires": session.expires_at.isoformat(), "address": client_address,
                 "version": account_version})
        return token, session

    def session(self, token: str) -> Session | None:
        # One statement, one round trip: it needs no explicit read-only transaction.
        row = self.db.read_row("SELECT digest, username, created_at, expires_at, last_seen_at,"
                               " account_version FROM sessions WHERE digest = :digest",
                               {"digest": token_digest(token)})
        return None if row is None else _session_of(row)

    def session_state(self, token: str) -> SessionState | None:
        """A session with its account's failure counter and second-factor state, as one
        statement (one round trip): what every authenticated request checks."""
        row = self.db.read_row(
            "SELECT s.digest, s.username, s.created_at, s.expires_at, s.last_seen_at,"
            " s.account_version, f.failures, f.last_failure_at, t.confirmed FROM sessions s"
            " LEFT JOIN login_failures f ON f.username = s.username"
            " LEFT JOIN totp_secrets t ON t.username = s.username"
            " WHERE s.digest = :digest", {"digest": token_digest(token)})
        if row is None:
            return None
        return SessionState(_session_of(row), int(row[6] or 0),
                            datetime.fromisoformat(row[7]) if row[7] else None,
                            None if row[8] is None else bool(row[8]))

    def touch(self, session: Session, now: datetime) -> None:
        with self.db.transaction() as cursor:
            cursor.execute("UPDATE sessions SET last_seen_at = :now WHERE digest = :digest",
                           {"now": now.isoformat(), "digest": session.digest})

    def close_session(self, digest: str) -> bool:
        with self.db.transaction() as cursor:
            deleted: int = cursor.execute("DELETE FROM sessions WHERE digest = :digest",
                                          {"digest": digest})
        return deleted > 0

    def close_sessions_of(self, username: str) -> int:
        with self.db.transaction() as cursor:
            deleted: int = cursor.execute("DELETE FROM sessions WHERE username = :user",
                                          {"user": username})
        return deleted

    # Second factor (LG-4) ----------------------------------------------------

    def store_totp_secret(self, username: str, secret: bytes, now: datetime) -> None:
        """Keep a new, unconfirmed secret (replacing an unconfirmed earlier one)."""
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM totp_secrets WHERE username = :user AND confirmed = 0",
                           {"user": username})
            cursor.execute("INSERT INTO totp_secrets (username, secret, confirmed, created_at)"
                           " VALUES (:user, :secret, 0, :now) ON CONFLICT (username) DO NOTHING",
                           {"user": username, "now": now.isoformat(),
                            "secret": self.sealer.seal(secret, TOTP, username)})

    def totp_secret(self, username: str) -> tuple[bytes, bool] | None:
        """The account's TOTP secret, opened, and whether it is confirmed."""
        with self.db.snapshot() as cursor:
            row = cursor.one("SELECT secret, confirmed FROM totp_secrets WHERE username = :user",
                             {"user": username})
        if row is None:
            return None
        return self.sealer.open(bytes(row[0]), TOTP, username), bool(row[1])

    def seal_bare_totp_secrets(self) -> int:
        """Seal the secrets a release before sealing stored bare (at start-up; README,
        "Accounts, login and roles"); return how many. On SQLite the bare bytes are
        overwritten in the file; PostgreSQL keeps the old row versions until VACUUM."""
        with self.db.snapshot() as cursor:
            rows = cursor.all("SELECT username, secret FROM totp_secrets")
        bare = [(str(username), bytes(secret)) for username, secret in rows
                if not self.sealer.is_sealed(bytes(secret))]
        if not bare:
            return 0
        with self.db.transaction() as cursor:
            if self.db.dialect == "sqlite":
                cursor.execute("PRAGMA secure_delete = ON")
            for username, secret in bare:
                # Compare-and-set: another instance may be sealing the same row.
                cursor.execute("UPDATE totp_secrets SET secret = :sealed"
                               " WHERE username = :user AND secret = :bare",
                               {"sealed": self.sealer.seal(secret, TOTP, username),
                                "user": username, "bare": secret})
        if self.db.dialect == "sqlite":
            # The bare bytes may still sit in write-ahead-log frames: fold them in now.
            self.db.statement("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(bare)

    def confirm_totp(self, username: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute("UPDATE totp_secrets SET confirmed = 1 WHERE username = :user",
                           {"user": username})

    def remove_totp_secret(self, username: str) -> bool:
        """Forget the account's secret, confirmed or not (a reset of its second factor);
        whether there was one."""
        with self.db.transaction() as cursor:
            deleted: int = cursor.execute("DELETE FROM totp_secrets WHERE username = :user",
                                          {"user": username})
        return deleted > 0

    def use_totp_step(self, username: str, step: int, now: datetime) -> bool:
        """Claim a code's time step; False if it was used before (on any instance)."""
        with self.db.transaction() as cursor:
            claimed: int = cursor.execute(
                "INSERT INTO totp_used_codes (username, step, used_at) VALUES (:user, :step,"
                " :now) ON CONFLICT (username, step) DO NOTHING",
                {"user": username, "step": step, "now": now.isoformat()})
        return claimed == 1

    # Role usage (AC-3) -------------------------------------------------------

    def record_role_use(self, username: str, roles: list[str], day: date) -> None:
        with self.db.transaction() as cursor:
            for role in roles:
                cursor.execute(
                    "INSERT INTO role_usage (username, role, last_used_on) VALUES (:user, :role,"
                    " :day) ON CONFLICT (username, role) DO UPDATE SET last_used_on = :day"
                    " WHERE role_usage.last_used_on < :day",
                    {"user": username, "role": role, "day": day.isoformat()})


def _session_of(row: Row) -> Session:
    """digest, username, created_at, expires_at, last_seen_at, account_version (the rest
    ignored)."""
    created, expires, seen = (datetime.fromisoformat(v) for v in row[2:5])
    return Session(row[0], row[1], created, expires, seen, int(row[5]))

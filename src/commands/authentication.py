"""Who is acting (LG-1..LG-6): logins, bearer-token sessions, the second factor's check at
login, and the trusted resolution of an in-process caller's account.

Authentication only establishes the actor and its roles; what the actor may do is decided
by the bus's authoriser alone. A session whose account must still change its one-time
password, or enrol a required second factor, acts with no roles: only the self-service
operations pass until that is done. Enrolling the second factor is a pair of commands
(``commands.totp_enrolment``); the accounts cache is ``commands.account_cache``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from commands.access_log import AccessLog
from commands.account_cache import AccountCache
from commands.actor import Actor, record_denial
from commands.observer import NoObserver, OperationsObserver
from commands.ports import Clock
from ledger import totp
from ledger.credentials import AuthenticationError, CredentialStore, SessionState, token_digest
from ledger.domain.access import AccessRecord
from ledger.domain.account import Account, AccountStatus, LockReason, account_id
from ledger.domain.errors import PermissionDeniedError
from ledger.domain.messages import N_, Message, message
from ledger.domain.metadata import EventMetadata, recording_as
from ledger.passwords import passwords_for
from ledger.policy import Policy
from ledger.store import LedgerStore

log = structlog.get_logger("ledger.auth")

LOGIN_FAILED = N_("wrong username or password")
LOGIN_SYSTEM_ACTOR = "system:login"
# Refresh a session's last-seen time at most this often: idle timeouts are in minutes.
# A request therefore writes nothing in the common case; the idle timeout is measured from
# a last-seen time up to this much too early, so a session may idle out up to this much
# sooner than the policy's minutes, never later.
TOUCH_INTERVAL = timedelta(seconds=15)
class Identity:
    """Logs accounts in and out, and turns a bearer token or a username into an ``Actor``."""

    def __init__(self, store: LedgerStore, credentials: CredentialStore, policy: Policy,
                 access_log: AccessLog, clock: Clock,
                 on_saved: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.credentials = credentials
        self.policy = policy
        self.login_policy = policy.login
        self.passwords = passwords_for(policy.passwords)
        self.access_log = access_log
        self.clock = clock
        self.on_saved = on_saved
        self.accounts = AccountCache(store)
        # Told of each login's outcome and each lockout (metrics); bootstrap() sets it.
        self.observer: OperationsObserver = NoObserver()

    def account(self, username: str) -> Account | None:
        """The account loaded afresh from its events: for callers that change it."""
        try:
            found: object = self.store.repository.get(account_id(username))
        except (AggregateNotFoundError, ValueError):
            return None
        return found if isinstance(found, Account) else None

    # Logging in --------------------------------------------------------------

    def login(self, username: str, password: str, totp_code: str | None = None,
              client_address: str | None = None) -> dict[str, Any]:
        """Check the credentials and open a session; every outcome is audited (AU-1)."""
        def refuse(reason: str, message: str = LOGIN_FAILED, failures: int = 0,
                   error: type[Exception] = AuthenticationError) -> Exception:
            self.access_log.record(AccessRecord.LoginFailed, actor=username[:100] or "-",
                                   client_address=client_address, username=username[:100],
                                   reason=reason, failures=failures)
            self.observer.login_done("failed")
            refusal = error(message)
            if isinstance(refusal, PermissionDeniedError):
                refusal.audited = True  # the LoginFailed record is its audit record
            return refusal

        if not self.login_policy.allows_address(client_address):
            raise refuse("network", N_("logins are not allowed from this network"),
                         error=PermissionDeniedError)
        account = self.account(username)
        # The hash runs whether or not the account exists: the time taken tells nothing.
        matches = self.passwords.verify(account.password_hash if account else None, password)
        if account is None:
            raise refuse("unknown_user")
        if account.status is AccountStatus.DISABLED:
            raise refuse("disabled")
        # Before the password's verdict is used (LG-3): a locked account answers exactly as
        # a wrong password does, whatever password was sent, so guessing on after the
        # lockout confirms nothing. The audit record says "locked"; the caller cannot tell.
        if self.is_locked(account):
            raise refuse("locked")
        if not matches:
            raise refuse("wrong_password", failures=self._count_failure(account, client_address))
        self._check_second_factor(account, totp_code, refuse, client_address)
        self.credentials.clear_failures(username)
        return self._open_session(account, client_address)

    def _check_second_factor(self, account: Account, code: str | None,
                             refuse: Callable[..., Exception], client_address: str | None
                             ) -> None:
        """A missing, wrong or used code is answered as a wrong password (the caller must
        not learn that the password was right) and counts towards the lockout like one;
        only the audit record tells which."""
        enrolled = self.credentials.totp_secret(account.username)
        if enrolled is None or not enrolled[1]:
            return
        now = self.clock()
        step = totp.matching_step(enrolled[0], code, now.timestamp()) if code else None
        if step is not None and self.credentials.use_totp_step(account.username, step, now):
            return
        reason = "totp_missing" if not code else "wrong_totp" if step is None else (
            "totp_replayed")
        raise refuse(reason, failures=self._count_failure(account, client_address))

    def _open_session(self, account: Account, client_address: str | None) -> dict[str, Any]:
        now = self.clock()
        lifetime = timedelta(minutes=self.login_policy.session_lifetime_minutes)
        # The version the checks above passed on: a lock or new password after it ends
        # the session, even one saved while this login was under way.
        token, session = self.credentials.open_session(account.username, now, lifetime,
                                                       client_address, account.version)
        changed = account.password_changed_at
        rotation_due = bool(changed and now - changed > timedelta(
            days=self.policy.passwords.rotation_days))
        self.access_log.record(AccessRecord.LoginSucceeded, actor=account.username,
                               client_address=client_address, username=account.username,
                               password_rotation_due=rotation_due)
        self.observer.login_done("succeeded")
        notices: list[Message] = []
        if account.must_change_password:
            notices.append(message("change your one-time password now (change-password)"))
        if self._totp_enrolment_required(account):
            notices.append(message("your role needs a second factor: enrol a TOTP "
                                   "authenticator"))
        if rotation_due:
            notices.append(message("your password is older than {days} days: please change it",
                                   days=self.policy.passwords.rotation_days))
        return {"token": token, "token_type": "bearer",
                "expires_at": session.expires_at.isoformat(),
                "idle_timeout_minutes": self.login_policy.session_idle_minutes,
                "username": account.username, "roles": sorted(account.active_roles),
                "password_change_required": account.must_change_password,
                "totp_enrolment_required": self._totp_enrolment_required(account),
                "password_rotation_due": rotation_due, "notices": notices}

    def _count_failure(self, account: Account, client_address: str | None) -> int:
        """One more consecutive failure; the one that reaches the limit locks the account."""
        username = account.username
        _, last = self.credentials.failures(username)
        if last is not None and account.unlocked_at is not None and last <= account.unlocked_at:
            self.credentials.clear_failures(username)  # counted before an unlock
        failures = self.credentials.record_failure(username, self.clock())
        if failures >= self.login_policy.max_failed_attempts and (
                account.status is AccountStatus.ACTIVE):
            self._lock(account, client_address)
        return failures

    def _lock(self, account: Account, client_address: str | None) -> None:
        metadata = EventMetadata(actor=LOGIN_SYSTEM_ACTOR, client_address=client_address,
                                 reason="too many failed logins")
        with recording_as(metadata, self.clock):
            account.lock(reason=LockReason.FAILED_LOGINS, by=LOGIN_SYSTEM_ACTOR)
        try:
            recordings = self.store.save(account)
        except IntegrityError:
            return  # another instance locked it (or changed it) first; the counter holds
        log.warning("account_locked_after_failed_logins", username=account.username)
        self.observer.account_locked_out()
        if self.on_saved is not None and recordings and recordings[-1].notification.id:
            self.on_saved(recordings[-1].notification.id)

    def is_locked(self, account: Account) -> bool:
        return self._locked(account, *self.credentials.failures(account.username))

    def _locked(self, account: Account, failures: int, last: datetime | None) -> bool:
        if account.status is AccountStatus.LOCKED:
            return True
        stale = last is not None and account.unlocked_at is not None and (
            last <= account.unlocked_at)
        return failures >= self.login_policy.max_failed_attempts and not stale

    def _totp_enrolment_required(self, account: Account) -> bool:
        if not self._needs_second_factor(account):
            return False
        enrolled = self.credentials.totp_secret(account.username)
        return enrolled is None or not enrolled[1]

    def _needs_second_factor(self, account: Account) -> bool:
        # A reset second factor must be enrolled again, whatever the account's roles.
        return account.must_enrol_second_factor or bool(
            set(self.login_policy.totp_required_roles) & account.active_roles)

    def logout(self, token: str, client_address: str | None = None) -> None:
        session = self.credentials.session(token)
        if session is None or not self.credentials.close_session(token_digest(token)):
            raise AuthenticationError("the session is not valid; nothing to log out of")
        self.access_log.record(AccessRecord.LoggedOut, actor=session.username,
                               client_address=client_address, username=session.username)

    # Every request -----------------------------------------------------------

    def authenticate(self, token: str | None, client_address: str | None) -> Actor:
        """The actor behind a bearer token, or ``AuthenticationError`` (HTTP 401)."""
        if not token:
            raise AuthenticationError("log in first: this request needs an "
                                      "'Authorization: Bearer <token>' header")
        # The session, the failure counter and the second factor in one read; the account
        # from the cache, checked against its current version in the store.
        state = self.credentials.session_state(token)
        if state is None:
            raise AuthenticationError("the session is not valid (logged out or unknown); "
                                      "log in again")
        session = state.session
        now = self.clock()
        idle = timedelta(minutes=self.login_policy.session_idle_minutes)
        if now >= session.expires_at or now - session.last_seen_at > idle:
            self.credentials.close_session(session.digest)
            raise AuthenticationError("the session has expired; log in again")
        if not self.login_policy.allows_address(client_address):
            denial = PermissionDeniedError("requests are not allowed from this network")
            record_denial(self.access_log, denial, Actor(session.username,
                                                         client_address=client_address),
                          "authenticate", None)
            raise denial
        account = self.accounts.current(session.username)
        if account is None or account.status is not AccountStatus.ACTIVE or self._locked(
                account, state.failures, state.last_failure_at):
            self.credentials.close_session(session.digest)
            raise AuthenticationError("the account is locked or disabled")
        if not account.session_valid(session.account_version, session.reference):
            # Ended by a lock, a disable or a new password since the login: for good,
            # whatever the account's state now (README, "Sessions").
            self.credentials.close_session(session.digest)
            raise AuthenticationError("the session has ended (the account was locked or its "
                                      "password changed since this login); log in again")
        if now - session.last_seen_at > TOUCH_INTERVAL:
            self.credentials.touch(session, now)
        pending = (("password_change",) if account.must_change_password else ()) + (
            ("totp_enrolment",) if self._enrolment_pending(account, state) else ())
        return self._actor(account, client_address, pending=pending,
                           session=session.reference)

    def _enrolment_pending(self, account: Account, state: SessionState) -> bool:
        """As ``_totp_enrolment_required``, from the state read with the session."""
        return self._needs_second_factor(account) and not state.totp_confirmed

    def actor_for(self, username: str, client_address: str | None = None) -> Actor:
        """A trusted in-process caller acting as ``username``: the account's current roles,
        none if it is unknown, locked or disabled (so the bus refuses and audits)."""
        account = self.accounts.current(username)
        if account is None or account.status is not AccountStatus.ACTIVE:
            return Actor(username, client_address=client_address)
        return self._actor(account, client_address)

    @staticmethod
    def _actor(account: Account, client_address: str | None, *,
               pending: tuple[str, ...] = (), session: str | None = None) -> Actor:
        return Actor(account.username, frozenset() if pending else account.active_roles,
                     client_address=client_address, department=account.department,
                     pending=pending, session=session)

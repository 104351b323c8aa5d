"""The per-request session check reads the session, failure counter and second factor in one
statement and keeps accounts loaded between requests: none of that may let a revoked,
expired, locked or changed session through (LG-1..LG-6), also when another instance of the
service made the change. On SQLite and PostgreSQL, on a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from commands.authentication import TOUCH_INTERVAL
from ledger import totp
from ledger.credentials import AuthenticationError
from service.bootstrap import Ledger
from tests.accounts import ADMIN, PASSWORD, open_account
from tests.conftest import FixedClock

HOME = "127.0.0.1"


def refused(call: Callable[[], object]) -> str:
    with pytest.raises(AuthenticationError) as caught:
        call()
    return str(caught.value)


def logged_in(ledger: Ledger, username: str = "li.na", *roles: str) -> str:
    open_account(ledger, username, *(roles or ("sales",)))
    token: str = ledger.access.identity.login(username, PASSWORD, client_address=HOME)["token"]
    assert ledger.access.identity.authenticate(token, HOME).roles  # the account is cached now
    return token


def count_loads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    loads: list[Any] = []
    repository = ledger.store.repository
    real_get = repository.get

    def spy(aggregate_id: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(aggregate_id)
        return real_get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(repository, "get", spy)
    return loads


def test_an_unchanged_account_is_not_loaded_again_on_every_request(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    token = logged_in(ledger)
    loads = count_loads(ledger, monkeypatch)

    for _ in range(3):
        assert ledger.access.identity.authenticate(token, HOME).roles == {"sales"}

    assert loads == []


def test_a_lock_after_the_account_was_cached_stops_its_session_at_once(
        ledger: Ledger) -> None:
    token = logged_in(ledger)
    ledger.bus.execute_named("lock-account", {"username": "li.na"}, ADMIN)

    assert "locked" in refused(lambda: ledger.access.identity.authenticate(token, HOME))
    # The refusal also ended the session: an unlock does not bring it back.
    ledger.bus.execute_named("unlock-account", {"username": "li.na"}, ADMIN)
    assert "not valid" in refused(lambda: ledger.access.identity.authenticate(token, HOME))


def test_a_revoked_role_is_gone_from_the_next_request(ledger: Ledger) -> None:
    token = logged_in(ledger, "li.na", "sales", "info_specialist")
    assert ledger.access.identity.authenticate(token, HOME).roles == {"sales",
                                                                      "info_specialist"}
    ledger.bus.execute_named("revoke-role", {"username": "li.na", "role": "sales"}, ADMIN)

    assert ledger.access.identity.authenticate(token, HOME).roles == {"info_specialist"}


def test_a_logged_out_or_expired_session_is_refused_after_it_was_cached(
        ledger: Ledger, clock: FixedClock) -> None:
    identity = ledger.access.identity
    token = logged_in(ledger)
    identity.logout(token, HOME)
    assert "not valid" in refused(lambda: identity.authenticate(token, HOME))

    idle = identity.login("li.na", PASSWORD, client_address=HOME)["token"]
    identity.authenticate(idle, HOME)
    clock.now += timedelta(minutes=identity.login_policy.session_idle_minutes, seconds=1)
    assert "expired" in refused(lambda: identity.authenticate(idle, HOME))


def test_failed_logins_counted_on_another_instance_lock_a_cached_account(
        ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str) -> None:
    token = logged_in(ledger)
    other = make_ledger(database_url)  # a second service instance on the same database
    for _ in range(ledger.access.identity.login_policy.max_failed_attempts):
        other.access.credentials.record_failure("li.na", other.access.identity.clock())

    assert "locked" in refused(lambda: ledger.access.identity.authenticate(token, HOME))


def test_a_change_saved_by_another_instance_is_seen_by_the_next_request(
        ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str) -> None:
    token = logged_in(ledger, "li.na", "sales", "info_specialist")
    other = make_ledger(database_url)
    other.bus.execute_named("revoke-role", {"username": "li.na", "role": "sales"}, ADMIN)
    assert ledger.access.identity.authenticate(token, HOME).roles == {"info_specialist"}

    other.bus.execute_named("disable-account", {"username": "li.na"}, ADMIN)
    assert "locked or disabled" in refused(
        lambda: ledger.access.identity.authenticate(token, HOME))


def test_a_confirmed_second_factor_lifts_the_restriction_of_the_same_session(
        ledger: Ledger, clock: FixedClock) -> None:
    open_account(ledger, "root.wu", "sysadmin", department="it")  # policy: needs a TOTP
    identity = ledger.access.identity
    token = identity.login("root.wu", PASSWORD, client_address=HOME)["token"]
    actor = identity.authenticate(token, HOME)
    assert actor.roles == frozenset()

    identity.begin_totp_enrolment(actor)
    assert identity.authenticate(token, HOME).roles == frozenset()  # not confirmed yet
    secret = ledger.access.credentials.totp_secret("root.wu")
    assert secret is not None
    identity.confirm_totp_enrolment(actor, totp.code_at(secret[0], clock.now.timestamp()))

    assert identity.authenticate(token, HOME).roles == {"sysadmin"}


def test_last_seen_is_written_at_most_once_per_touch_interval(
        ledger: Ledger, clock: FixedClock) -> None:
    identity = ledger.access.identity
    token = logged_in(ledger)

    def last_seen() -> Any:
        session = ledger.access.credentials.session(token)
        assert session is not None
        return session.last_seen_at

    opened = last_seen()
    clock.now += TOUCH_INTERVAL
    identity.authenticate(token, HOME)
    assert last_seen() == opened  # within the interval: no write
    clock.now += timedelta(seconds=1)
    identity.authenticate(token, HOME)
    assert last_seen() == clock.now


def test_the_idle_timeout_holds_to_within_the_touch_interval(
        ledger: Ledger, clock: FixedClock) -> None:
    """Requests every few seconds keep a session alive; a pause of the idle timeout ends it
    no later than the policy says, and at most one touch interval sooner."""
    identity = ledger.access.identity
    token = logged_in(ledger)
    idle = timedelta(minutes=identity.login_policy.session_idle_minutes)
    for _ in range(10):
        clock.now += timedelta(seconds=7)
        identity.authenticate(token, HOME)

    clock.now += idle - TOUCH_INTERVAL
    identity.authenticate(token, HOME)  # still alive a touch interval before the timeout
    clock.now += idle + timedelta(seconds=1)
    assert "expired" in refused(lambda: identity.authenticate(token, HOME))


def test_a_trusted_in_process_caller_also_sees_a_change_at_once(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales", "info_specialist")
    identity = ledger.access.identity
    assert identity.actor_for("li.na").roles == {"sales", "info_specialist"}

    ledger.bus.execute_named("revoke-role", {"username": "li.na", "role": "sales"}, ADMIN)
    assert identity.actor_for("li.na").roles == {"info_specialist"}
    ledger.bus.execute_named("lock-account", {"username": "li.na"}, ADMIN)
    assert identity.actor_for("li.na").roles == frozenset()
    assert identity.actor_for("nobody").roles == frozenset()

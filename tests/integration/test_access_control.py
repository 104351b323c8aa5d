"""Access control across service instances and over time: lockout and one-time TOTP codes
shared through the database, the access review, and the accounts read model's rebuild."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from ledger import totp
from ledger.credentials import AuthenticationError
from ledger.domain.account import AccountStatus
from projections.account_queries import AccessReview
from projections.queries import FindCustomers
from service.bootstrap import Ledger
from tests.accounts import ADMIN, PASSWORD, grant, open_account
from tests.conftest import FixedClock

HOME = "127.0.0.1"


@pytest.mark.postgres
def test_failed_logins_on_two_instances_add_up_to_one_lockout(
        make_ledger: Callable[..., Ledger], postgres_url: str) -> None:
    first, second = make_ledger(postgres_url), make_ledger(postgres_url)
    open_account(first, "li.na", "sales")

    for attempt in range(5):
        instance = (first, second)[attempt % 2]
        with pytest.raises(AuthenticationError):
            instance.access.identity.login("li.na", "Wrong-Pass#0000", client_address=HOME)

    for instance in (first, second):
        # Locked: even the right password is answered as a wrong one (LG-3).
        with pytest.raises(AuthenticationError, match="wrong username or password"):
            instance.access.identity.login("li.na", PASSWORD, client_address=HOME)
        account = instance.access.identity.account("li.na")
        assert account is not None and account.status is AccountStatus.LOCKED


@pytest.mark.postgres
def test_a_totp_code_used_on_one_instance_is_refused_on_the_other(
        make_ledger: Callable[..., Ledger], postgres_url: str, clock: FixedClock) -> None:
    first, second = make_ledger(postgres_url), make_ledger(postgres_url)
    actor = open_account(first, "li.na", "sales")
    first.access.identity.begin_totp_enrolment(actor)
    secret = first.access.credentials.totp_secret("li.na")
    assert secret is not None
    first.access.identity.confirm_totp_enrolment(actor, totp.code_at(secret[0],
                                                                     clock.now.timestamp()))
    clock.now += timedelta(seconds=totp.STEP_SECONDS)
    code = totp.code_at(secret[0], clock.now.timestamp())

    first.access.identity.login("li.na", PASSWORD, code, HOME)
    with pytest.raises(AuthenticationError):
        second.access.identity.login("li.na", PASSWORD, code, HOME)
    (notification,) = second.store.read_log(second.store.head_position() - 1, 1)
    assert second.store.mapper.to_domain_event(notification).reason == "totp_replayed"


def test_the_access_review_flags_grants_unused_for_the_policy_period(
        ledger: Ledger, clock: FixedClock) -> None:
    user = open_account(ledger, "li.na", "sales", "finance")
    open_account(ledger, "zhao.lei", "auditor", department="audit")
    grant(ledger, "li.na", "customer_service")
    ledger.bus.ask(FindCustomers(name_prefix="x"), user)  # uses sales and finance
    clock.now += timedelta(days=60)
    ledger.bus.ask(FindCustomers(name_prefix="x"), ledger.access.identity.actor_for("li.na"))
    clock.now += timedelta(days=40)
    ledger.runner.catch_up()

    review = ledger.access.queries.access_review(AccessReview())

    unused = {(g["username"], g["role"]) for g in review["unused_grants"]}
    assert ("zhao.lei", "auditor") in unused  # never used in 100 days
    assert ("li.na", "sales") not in unused  # used 40 days ago
    by_user = {a["username"]: a for a in review["accounts"]}
    assert by_user["li.na"]["last_used_on"] == (clock.now - timedelta(days=40)).date().isoformat()
    sales = next(g for g in by_user["li.na"]["grants"] if g["role"] == "sales")
    assert (sales["requested_by"], sales["unused"]) == (ADMIN.id, False)
    assert review["reflects_position"] == ledger.store.head_position()


def test_the_accounts_read_model_rebuilds_to_the_same_rows(ledger: Ledger) -> None:
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "zhao.lei", "auditor")
    ledger.bus.execute_named("lock-account", {"username": "li.na"}, ADMIN)
    ledger.access.identity.login("zhao.lei", PASSWORD, client_address=HOME)
    ledger.runner.catch_up()
    projection = ledger.runner.projections["accounts"]
    with ledger.views.snapshot() as cursor:
        before = projection.dump(cursor)

    ledger.runner.rebuild(["accounts"])

    with ledger.views.snapshot() as cursor:
        assert projection.dump(cursor) == before
    statuses = {row[0]: row[4] for row in before["accounts"]}
    assert statuses == {"li.na": "locked", "zhao.lei": "active"}

"""Projections fold a page of events in memory: any batch size must give the same rows.

Given a history written before the runner ran (registrations, verified, rejected and
pending changes, reviews, and an erasure of a customer whose every event sits in the same
page), when it is projected in one page, in pages of a few events, or one event at a time,
then every read model holds exactly the same rows.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from uuid import UUID

import psycopg
import pytest

from commands.customers import RecordReview, RejectChange
from projections.runner import ProjectionRunner
from service.bootstrap import Ledger
from tests.factories import make_profile
from tests.privacy_support import (
    CHECKER,
    CLERK,
    change,
    distinctive_profile,
    erase,
    register,
    run,
)


def dump(runner: ProjectionRunner) -> dict[str, Any]:
    with runner.views.snapshot() as cursor:
        return {name: p.dump(cursor) for name, p in runner.projections.items()}


def rebuilt_in_pages_of(ledger: Ledger, size: int) -> dict[str, Any]:
    ledger.runner.batch_size = size
    ledger.runner.rebuild()
    assert ledger.runner.position() == ledger.store.head_position()
    return dump(ledger.runner)


def busy_history(ledger: Ledger) -> tuple[str, str]:
    """Two customers with every kind of customer event; the first is then erased."""
    erased = register(ledger, distinctive_profile("zh_CN"))
    kept = register(ledger, distinctive_profile("en_US"))
    for customer_id in (erased, kept):
        change(ledger, customer_id, {"basic.phone": "+8613912345678",
                                     "basic.name": f"改名 {customer_id[:4]} 公司"})
        change(ledger, customer_id, {"basic.email": "later@example.com"}, verify=False)
        rejected = change(ledger, customer_id, {"business.scale": "large"}, verify=False)
        run(ledger, RejectChange(customer_id=UUID(customer_id), proposal_id=rejected,
                                 reason="not confirmed"), CHECKER)
        run(ledger, RecordReview(customer_id=UUID(customer_id)), CHECKER)
    erase(ledger, erased)
    register(ledger, make_profile(seed=7), CLERK)
    return erased, kept


def test_one_page_equals_pages_of_a_few_and_one_event_at_a_time(ledger: Ledger) -> None:
    erased, kept = busy_history(ledger)
    ledger.runner.catch_up()  # everything in one page
    incremental = dump(ledger.runner)

    for size in (1, 2, 3, 5, 1_000_000):
        assert rebuilt_in_pages_of(ledger, size) == incremental, f"pages of {size}"

    views = incremental["customer_view"]["customer_view"]
    tombstone = next(row for row in views if row[0] == erased)
    assert tombstone[5] == "{}" and tombstone[10] is not None  # profile gone, erased_at set
    search = incremental["customer_search"]["customer_search"]
    assert {row[0] for row in search} >= {kept} and erased not in {row[0] for row in search}
    pending = incremental["pending_proposals"]["pending_proposals"]
    assert [row[1] for row in pending] == [kept]  # the erased customer's proposal is gone


def test_a_change_then_erasure_in_one_page_leaves_no_search_rows(ledger: Ledger) -> None:
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    ledger.runner.catch_up()
    change(ledger, customer_id, {"basic.phone": "+8613900001111"})
    erase(ledger, customer_id)

    ledger.runner.catch_up()  # the change and the erasure in one page

    with ledger.views.snapshot() as cursor:
        assert cursor.all("SELECT * FROM customer_search WHERE customer_id = :cid",
                          {"cid": customer_id}) == []
        row = cursor.one("SELECT profile, erased_at FROM customer_view WHERE customer_id = :cid",
                         {"cid": customer_id})
    assert row is not None and row[0] == "{}" and row[1] is not None


def test_a_verified_change_replaces_only_its_own_search_rows_within_a_page(
        ledger: Ledger) -> None:
    customer_id = register(ledger, distinctive_profile("en_US"))
    change(ledger, customer_id, {"basic.phone": "+8613900002222"})
    change(ledger, customer_id, {"basic.phone": "+8613900003333"})
    ledger.runner.catch_up()
    in_one_page = dump(ledger.runner)["customer_search"]

    assert rebuilt_in_pages_of(ledger, 1)["customer_search"] == in_one_page
    phones = [row for row in in_one_page["customer_search"]
              if row[0] == customer_id and row[1] == "basic.phone"]
    assert len(phones) == 1  # the last verified phone only


@pytest.mark.parametrize("skip_existing", [False, True])
def test_bulk_insert_writes_every_row_and_treats_existing_keys_as_told(
        ledger: Ledger, skip_existing: bool) -> None:
    # Enough rows for PostgreSQL's COPY path, and a few for its pipelined one.
    for count in (3, 500):
        table = f"bulk_probe_{count}"
        with ledger.views.transaction() as cursor:
            cursor.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, v TEXT)")
            cursor.insert_rows(table, ("k", "v"), [(0, "first")])
        rows = [(k, f"value {k}") for k in range(count)]
        if skip_existing:
            with ledger.views.transaction() as cursor:
                cursor.insert_rows(table, ("k", "v"), rows, skip_existing=True)
        else:
            with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), \
                    ledger.views.transaction() as cursor:
                cursor.insert_rows(table, ("k", "v"), rows)
        with ledger.views.snapshot() as cursor:
            stored = cursor.all(f"SELECT k, v FROM {table} ORDER BY k")
        expected = [(0, "first"), *rows[1:]] if skip_existing else [(0, "first")]
        assert stored == expected, f"{count} rows"

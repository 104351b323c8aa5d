"""The one-round-trip append on PostgreSQL keeps the library's guarantees."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.pg_append import PostgresAppend
from service.bootstrap import Ledger

pytestmark = pytest.mark.postgres


def rows(count: int, originator: object = None) -> list[StoredEvent]:
    originator_id = originator or uuid4()
    return [StoredEvent(originator_id=originator_id, originator_version=version,
                        topic="tests:Appended", state=b'{"n":%d}' % version)
            for version in range(1, count + 1)]


@pytest.fixture
def pg_ledger(make_ledger: Callable[..., Ledger], postgres_url: str) -> Ledger:
    return make_ledger(postgres_url)


def append_of(ledger: Ledger) -> PostgresAppend:
    append = ledger.store._append
    assert isinstance(append, PostgresAppend)
    return append


def test_rows_are_appended_in_the_order_given_with_increasing_positions(pg_ledger: Ledger
                                                                        ) -> None:
    written = rows(5)
    positions = append_of(pg_ledger)(written)
    assert positions == sorted(positions) and len(set(positions)) == 5
    log = pg_ledger.store.read_log(positions[0] - 1, 10)
    assert [(n.id, n.originator_version, n.state) for n in log] == [
        (p, r.originator_version, r.state) for p, r in zip(positions, written, strict=True)]


def test_a_duplicate_version_fails_the_whole_append_and_writes_none_of_it(pg_ledger: Ledger
                                                                          ) -> None:
    append = append_of(pg_ledger)
    originator = uuid4()
    append(rows(1, originator))
    head = pg_ledger.store.head_position()
    with pytest.raises(IntegrityError):
        append(rows(1) + rows(2, originator))  # a fresh aggregate, then a taken version
    assert pg_ledger.store.head_position() == head


def test_listeners_are_notified_of_an_append(pg_ledger: Ledger, postgres_url: str) -> None:
    channel = pg_ledger.store.app_recorder.channel_name  # type: ignore[attr-defined]
    with psycopg.connect(postgres_url, autocommit=True) as listener:
        listener.execute(f'LISTEN "{channel}"')
        append_of(pg_ledger)(rows(1))
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [notify.channel for notify in heard] == [channel]


def test_a_second_instance_installs_the_function_again_without_harm(
        pg_ledger: Ledger, make_ledger: Callable[..., Ledger], postgres_url: str) -> None:
    second = make_ledger(postgres_url)
    first_positions = append_of(pg_ledger)(rows(2))
    second_positions = append_of(second)(rows(2))
    assert second_positions[0] > first_positions[-1]

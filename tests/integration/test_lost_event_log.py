"""An event log destroyed by hand (its table dropped, or every row deleted) beside a hash
chain that still records sealed events: the ledger refuses to start on it instead of making
a new, empty log and writing into it (which a backup would then keep)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from commands.customers import RegisterCustomer
from ledger.integrity.report import IntegrityViolationError
from service.bootstrap import Ledger
from tests.conftest import ALICE
from tests.factories import make_profile
from tests.integration.raw_tables import RawTables


def sealed_ledger(make_ledger: Callable[..., Ledger], database_url: str) -> str:
    """A ledger with a customer registered and sealed into the chain; its events table."""
    ledger = make_ledger(database_url)
    ledger.bus.execute(RegisterCustomer(profile=make_profile(seed=5)), ALICE)
    ledger.sealer.seal_all()
    table = "stored_events" if database_url.startswith("sqlite") else "ledger_events"
    ledger.close()
    return table


def tables_of(raw: RawTables) -> list[str]:
    if raw.sqlite:
        rows = raw.sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    else:
        rows = raw.sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                       "ORDER BY tablename")
    return [row[0] for row in rows]


@pytest.mark.parametrize("destroy", ["DROP TABLE {table}", "DELETE FROM {table}"])
def test_a_destroyed_event_log_stops_the_start_and_nothing_is_made_again(
        make_ledger: Callable[..., Ledger], database_url: str, destroy: str) -> None:
    table = sealed_ledger(make_ledger, database_url)
    with RawTables(database_url) as raw:
        raw.sql(destroy.format(table=table))
        before = tables_of(raw)

    with pytest.raises(IntegrityViolationError, match="event log is missing or empty"):
        make_ledger(database_url)

    with RawTables(database_url) as raw:
        assert tables_of(raw) == before  # the dropped table is not made again
        if table in before:
            assert raw.sql(f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_a_new_ledger_with_no_chain_yet_starts_on_an_empty_log(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = make_ledger(database_url)  # no sealed record: nothing was destroyed
    ledger.close()
    assert make_ledger(database_url).store.head_position() == 0

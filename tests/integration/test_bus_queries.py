"""The bus puts every query to the authoriser, on SQLite and PostgreSQL: the queries read
projections, so this runs on a real database (the commands' side is in
tests/unit/commands/test_bus.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import BaseModel

from commands.customers import RegisterCustomer
from ledger.settings import Settings
from projections.history import CustomerHistory
from projections.queries import FindCustomers, GetCustomer, ListPendingProposals
from service.bootstrap import Ledger, bootstrap
from tests.conftest import ALICE, BOB, FixedClock
from tests.factories import make_profile
from tests.fakes import RecordingAuthoriser


@pytest.fixture
def authoriser() -> RecordingAuthoriser:
    return RecordingAuthoriser()


@pytest.fixture
def guarded(database_url: str, clock: FixedClock, authoriser: RecordingAuthoriser,
            development_keys: Path) -> Iterator[Ledger]:
    """A ledger on each backend whose bus asks ``authoriser`` about everything."""
    with bootstrap(Settings(database_url=database_url, data_dir=development_keys), clock=clock,
                   authoriser=authoriser, start_projections=False) as ledger:
        yield ledger


def a_customer(ledger: Ledger) -> UUID:
    return UUID(ledger.bus.execute(RegisterCustomer(profile=make_profile()), ALICE)
                ["aggregate_id"])


def test_every_query_is_put_to_the_authoriser(guarded: Ledger,
                                              authoriser: RecordingAuthoriser) -> None:
    customer_id = a_customer(guarded)
    guarded.runner.catch_up()
    authoriser.calls.clear()
    queries: list[BaseModel] = [GetCustomer(customer_id=customer_id),
                                FindCustomers(name_prefix="a"),
                                ListPendingProposals(customer_id=customer_id),
                                CustomerHistory(customer_id=customer_id)]
    for query in queries:
        guarded.bus.ask(query, BOB)
    target = str(customer_id)
    assert authoriser.calls == [
        ("bob", "get-customer", target), ("bob", "find-customers", None),
        ("bob", "list-pending-proposals", target), ("bob", "customer-history", target)]

"""A list cut at its limit says so (``more``), so a compliance list never looks complete when
it is not: given three customers due for review and three matching a name, when each list is
asked for with a limit of two, three and more, then ``more`` tells whether any were left out."""

from __future__ import annotations

import pytest

from commands.actor import Actor
from projections.queries import FindCustomers, ListPendingProposals, ListReviewsDue
from service.bootstrap import Ledger
from tests.conftest import SPECIALIST
from tests.factories import make_profile
from tests.integration.test_properties import TODAY

CLERK = Actor("alice", SPECIALIST, department="sales")


@pytest.fixture
def three_customers(ledger: Ledger) -> Ledger:
    for seed in (1, 2, 3):
        registered = ledger.bus.execute_named("register-customer", {
            "profile": make_profile(seed=seed, basic__name=f"明远贸易 {seed}")}, CLERK)
        ledger.bus.execute_named("propose-change", {
            "customer_id": registered["aggregate_id"], "happened_on": TODAY.isoformat(),
            "changes": {"basic.business_scope": f"进出口 {seed}"}}, CLERK)
    ledger.runner.catch_up()
    return ledger


@pytest.mark.parametrize(("limit", "shown", "more"), [(2, 2, True), (3, 3, False),
                                                      (10, 3, False)])
def test_a_list_cut_at_its_limit_says_more_exist(three_customers: Ledger, limit: int,
                                                 shown: int, more: bool) -> None:
    ask = three_customers.bus.ask
    found = ask(FindCustomers(name_prefix="明远", limit=limit), CLERK)
    due = ask(ListReviewsDue(limit=limit), CLERK)
    pending = ask(ListPendingProposals(limit=limit), CLERK)

    assert (len(found["customers"]), found["more"]) == (shown, more)
    assert (len(due["customers"]), due["more"]) == (shown, more)
    assert (len(pending["proposals"]), pending["more"]) == (shown, more)

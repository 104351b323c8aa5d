"""Withdrawal is not rejection: the proposer takes their own pending proposal back; a
different person with the verifier's permission rejects it."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from commands.actor import Actor
from commands.customers import (
    ProposeChange,
    RegisterCustomer,
    RejectChange,
    VerifyChange,
    WithdrawChange,
)
from ledger.domain.customer import Customer
from ledger.domain.errors import NotFoundError, PermissionDeniedError, WorkflowViolationError
from tests.conftest import ALICE, BOB
from tests.factories import make_profile
from tests.fakes import WriteSide
from tests.store_snapshot import store_unchanged

TODAY = date(2026, 11, 27)
SALES_REP = Actor("zhou.min", frozenset({"sales"}), department="sales")


def _proposal(ledger: WriteSide, by: Actor = ALICE) -> tuple[UUID, str]:
    registered = ledger.bus.execute(RegisterCustomer(profile=make_profile(seed=31)), by)
    customer_id = UUID(registered["aggregate_id"])
    proposed = ledger.bus.execute(ProposeChange(
        customer_id=customer_id, changes={"basic.email": "new@example.com"},
        happened_on=TODAY), by)
    return customer_id, str(proposed["result"]["proposal_id"])


def test_the_proposer_withdraws_their_own_pending_proposal(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger)
    before = ledger.store.repository.get(customer_id).profile

    outcome = ledger.bus.execute(WithdrawChange(customer_id=customer_id,
                                                proposal_id=proposal_id), ALICE)

    assert outcome["result"] == {"customer_id": str(customer_id), "proposal_id": proposal_id}
    last = list(ledger.store.events.get(customer_id))[-1]
    assert isinstance(last, Customer.ChangeWithdrawn)
    assert (last.proposal_id, last.withdrawn_by) == (proposal_id, ALICE.id)
    customer = ledger.store.repository.get(customer_id)
    assert customer.pending == {}
    assert customer.profile == before


def test_a_sales_rep_may_withdraw_what_they_proposed(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger, by=SALES_REP)
    ledger.bus.execute(WithdrawChange(customer_id=customer_id, proposal_id=proposal_id),
                       SALES_REP)
    assert ledger.store.repository.get(customer_id).pending == {}


def test_no_one_else_may_withdraw_it(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger)
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError,
                                                      match="only the person who proposed"):
        ledger.bus.execute(WithdrawChange(customer_id=customer_id, proposal_id=proposal_id),
                           BOB)


def test_the_proposer_may_not_reject_their_own_proposal(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger)
    with store_unchanged(ledger.store), pytest.raises(WorkflowViolationError, match="withdraw"):
        ledger.bus.execute(RejectChange(customer_id=customer_id, proposal_id=proposal_id,
                                        reason="changed my mind"), ALICE)


def test_another_verifier_still_rejects(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger)
    ledger.bus.execute(RejectChange(customer_id=customer_id, proposal_id=proposal_id,
                                    reason="客户未确认"), BOB)
    last = list(ledger.store.events.get(customer_id))[-1]
    assert isinstance(last, Customer.ChangeRejected)


def test_rejecting_needs_the_verifiers_permission(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger)
    other_rep = Actor("sun.li", frozenset({"sales"}), department="sales")
    with pytest.raises(PermissionDeniedError):
        ledger.bus.execute(RejectChange(customer_id=customer_id, proposal_id=proposal_id,
                                        reason="no"), other_rep)
    assert ledger.store.repository.get(customer_id).pending


def test_a_withdrawn_proposal_can_no_longer_be_verified(ledger: WriteSide) -> None:
    customer_id, proposal_id = _proposal(ledger)
    ledger.bus.execute(WithdrawChange(customer_id=customer_id, proposal_id=proposal_id), ALICE)
    with store_unchanged(ledger.store), pytest.raises(NotFoundError):
        ledger.bus.execute(VerifyChange(customer_id=customer_id, proposal_id=proposal_id), BOB)

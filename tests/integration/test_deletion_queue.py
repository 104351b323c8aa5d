"""The deletion workflow as the queue shows it, on SQLite and PostgreSQL (DL-1..DL-3): a
request waits in the deletion queue (a projection) until it is executed, and the execution
destroys the customer's key in the key store. The steps' rules are in
tests/unit/commands/test_deletion.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from commands.deletion import ApproveDeletion, ExecuteDeletion, ReviewDeletion
from commands.models import Command
from ledger.domain.customer import Customer
from ledger.domain.deletion import Ground
from projections.privacy import ListDeletions
from service.bootstrap import Ledger
from tests.factories import make_profile
from tests.privacy_support import INFO_HEAD, SALES_HEAD, SYSADMIN, register, request_deletion, run


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> Ledger:
    return make_ledger(database_url, data_dir=tmp_path / "var")


def a_customer(ledger: Ledger) -> str:
    return register(ledger, make_profile("zh_CN", seed=21))


def step(name: str, request_id: str) -> Command:
    commands: dict[str, Callable[[], Command]] = {
        "review": lambda: ReviewDeletion(request_id=UUID(request_id)),
        "approve": lambda: ApproveDeletion(request_id=UUID(request_id)),
        "execute": lambda: ExecuteDeletion(request_id=UUID(request_id)),
    }
    return commands[name]()


def test_the_four_steps_erase_the_customer_and_leave_the_queue(ledger: Ledger) -> None:
    customer_id = a_customer(ledger)
    key_id = ledger.keys.data_key(customer_id)[0]  # type: ignore[index]
    request_id = request_deletion(ledger, customer_id, ground=Ground.ERRONEOUS_OR_DUPLICATE)
    ledger.runner.catch_up()
    queue = ledger.bus.ask(ListDeletions(), INFO_HEAD)["deletions"]
    assert [(d["request_id"], d["stage"], d["ground"]) for d in queue] == [
        (request_id, "requested", "erroneous_or_duplicate")]
    run(ledger, step("review", request_id), SALES_HEAD)
    run(ledger, step("approve", request_id), INFO_HEAD)
    outcome = run(ledger, step("execute", request_id), SYSADMIN)
    assert (outcome["result"]["key_id"], outcome["result"]["stage"]) == (key_id, "executed")
    assert ledger.bus.ask(ListDeletions(min_position=outcome["position"]), INFO_HEAD
                          )["deletions"] == []
    customer = ledger.store.repository.get(UUID(customer_id))
    assert isinstance(customer, Customer) and customer.erased
    assert ledger.keys.data_key(customer_id) is None

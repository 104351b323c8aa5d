"""A command's reason through the real bus (issue 16, B): given a command about a customer,
its reason is sealed whatever it says; given one about an account, whose reason is stored
in plaintext, a reason holding a phone number or an e-mail address is refused, naming the
field and never the text, and nothing is written."""

from __future__ import annotations

from uuid import UUID

import pytest

from commands.accounts import LockAccount
from commands.customers import RegisterCustomer
from commands.legal_holds import PlaceLegalHold
from ledger.domain.account import account_id
from ledger.domain.errors import ValidationFailedError
from ledger.domain.free_text import CONTACT_DATA_MESSAGE
from tests.accounts import ADMIN, create
from tests.factories import make_profile
from tests.fakes import WriteSide
from tests.privacy_support import CLERK, INFO_HEAD, register, run
from tests.store_snapshot import store_unchanged

CONTACT_REASONS = ["her new mobile is 139 0013 9000", "asked by mail, li.na@mingyuan.cn"]


@pytest.mark.parametrize("reason", CONTACT_REASONS)
def test_an_account_commands_reason_with_contact_data_is_refused_naming_the_field(
        ledger: WriteSide, reason: str) -> None:
    create(ledger, "li.na")

    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        ledger.bus.execute(LockAccount(username="li.na", reason=reason), ADMIN)

    assert refused.value.problems[0].as_dict() == {"field": "reason",
                                                   "message": CONTACT_DATA_MESSAGE}
    assert reason not in str(refused.value.as_dict())


def test_an_ordinary_reason_on_an_account_is_kept_as_typed(ledger: WriteSide) -> None:
    create(ledger, "li.na")

    ledger.bus.execute(LockAccount(username="li.na", reason="laptop stolen"), ADMIN)

    last = list(ledger.store.events.get(account_id("li.na")))[-1]
    assert last.meta["reason"] == "laptop stolen"


@pytest.mark.parametrize("reason", CONTACT_REASONS)
def test_a_customer_commands_reason_may_say_anything_it_is_sealed(
        ledger: WriteSide, reason: str) -> None:
    outcome = run(ledger, RegisterCustomer(profile=make_profile(seed=3), reason=reason), CLERK)

    [event] = list(ledger.store.events.get(UUID(outcome["aggregate_id"])))
    assert event.meta["reason"] != reason
    assert ledger.protector.open_reason(event.meta["reason"]) == reason


def test_a_legal_holds_reference_with_contact_data_is_refused(ledger: WriteSide) -> None:
    customer_id = register(ledger, make_profile(seed=4))

    with store_unchanged(ledger.store), pytest.raises(ValidationFailedError) as refused:
        run(ledger, PlaceLegalHold(customer_id=UUID(customer_id), reason="litigation",
                                   reference="call 13800138000"), INFO_HEAD)

    assert refused.value.fields == ["reference"]

"""The entry standard for free text (CI-4) on each backend: a control character is refused and
writes nothing; invisible format characters are removed, so search and duplicate detection
see the name a person sees."""

from __future__ import annotations

from uuid import UUID

import pytest

from commands.actor import Actor
from ledger.domain.errors import ValidationFailedError
from projections.privacy import ListDuplicates
from projections.queries import FindCustomers
from service.bootstrap import Ledger
from tests.conftest import SPECIALIST
from tests.factories import make_profile
from tests.integration.test_properties import TODAY, stored_records

CLERK = Actor("alice", SPECIALIST, department="sales")


def test_a_command_with_a_control_character_is_refused_naming_the_field_and_writes_nothing(
        ledger: Ledger) -> None:
    registered = ledger.bus.execute_named(
        "register-customer", {"profile": make_profile(seed=7)}, CLERK)
    before = stored_records(ledger)

    with pytest.raises(ValidationFailedError) as registering:
        ledger.bus.execute_named("register-customer", {
            "profile": make_profile(seed=8, basic__name="Ming\x00Yuan Trading")}, CLERK)
    with pytest.raises(ValidationFailedError) as proposing:
        ledger.bus.execute_named("propose-change", {
            "customer_id": registered["aggregate_id"], "happened_on": TODAY.isoformat(),
            "changes": {"basic.address": {"country": "CN", "street": "南京西路\x1b[2J100号"}}},
            CLERK)

    assert registering.value.fields == ["basic.name"]
    assert proposing.value.fields == ["basic.address.street"]
    assert {p.message for p in registering.value.problems + proposing.value.problems} == {
        "must not contain control characters"}
    assert stored_records(ledger) == before


def test_a_name_with_zero_width_characters_is_found_and_seen_as_a_duplicate(
        ledger: Ledger) -> None:
    plain = make_profile(seed=7, basic__name="明远贸易有限公司")
    disguised = make_profile(seed=7, basic__name="明\u200b远\u200d贸易\ufeff有限公司")
    first = ledger.bus.execute_named("register-customer", {"profile": plain}, CLERK)
    second = ledger.bus.execute_named("register-customer", {"profile": disguised}, CLERK)
    ledger.runner.catch_up()

    found = ledger.bus.ask(FindCustomers(name_prefix="明远"), CLERK)["customers"]
    groups = ledger.bus.ask(ListDuplicates(), CLERK)["groups"]

    assert {c["name"] for c in found} == {"明远贸易有限公司"}
    assert len(found) == 2
    assert {first["aggregate_id"], second["aggregate_id"]} in [
        set(group["customer_ids"]) for group in groups]


@pytest.mark.parametrize(("command", "payload", "field"), [
    ("register-customer", {"reason": "imported\x00"}, "reason"),
    ("reject-change", {"proposal_id": "p-1", "reason": "wrong\x07number"}, "reason"),
    ("request-deletion", {"ground": "erroneous_or_duplicate", "details": "typo\x1b[31m",
                          "department": "sales"}, "details"),
    ("request-deletion", {"ground": "erroneous_or_duplicate", "details": "duplicate entry",
                          "department": "sa\x00les"}, "department"),
], ids=["reason", "rejection", "deletion-details", "department"])
def test_every_text_a_command_carries_refuses_control_characters_and_writes_nothing(
        ledger: Ledger, command: str, payload: dict[str, object], field: str) -> None:
    registered = ledger.bus.execute_named(
        "register-customer", {"profile": make_profile(seed=7)}, CLERK)
    target = {} if command == "register-customer" else {
        "customer_id": registered["aggregate_id"]}
    profile = {"profile": make_profile(seed=9)} if command == "register-customer" else {}
    before = stored_records(ledger)

    with pytest.raises(ValidationFailedError) as refused:
        ledger.bus.execute_named(command, payload | target | profile, CLERK)

    assert refused.value.fields == [field]
    assert stored_records(ledger) == before


def test_a_reason_keeps_its_line_breaks_and_loses_its_invisible_characters(
        ledger: Ledger) -> None:
    outcome = ledger.bus.execute_named("register-customer", {
        "profile": make_profile(seed=7), "reason": "row 17\u200b of\nthe import"}, CLERK)

    stored = list(ledger.store.events.get(UUID(outcome["aggregate_id"])))
    # Sealed, as free text about a customer is (issue 16, B); opened, it is the cleaned text.
    assert ledger.protector.open_reason(stored[0].meta["reason"]) == "row 17 of\nthe import"

"""Searching needs clearance for the field searched (AC-1, P5): an exact match is as good as
reading the value, so a reader may search only in the fields it may read unmasked. A search
in none of them is refused with ``permission_denied``, and the refusal is audited.

Given a customer with distinctive phone, e-mail, legal representative and contact, when
staff of each role search for its values, then sales and customer service find it, and
finance and technical learn nothing they could not read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from commands.bus import Actor
from ledger.domain.access import AccessRecord
from ledger.domain.errors import PermissionDeniedError
from projections.privacy import FindCustomersBy, ListDuplicates
from projections.queries import FindCustomers
from service.bootstrap import Ledger
from tests.conftest import FAST_HASHING_POLICY
from tests.privacy_support import ask, distinctive_profile, register
from tests.store_snapshot import only_a_denial_recorded, snapshot_store

SALES = Actor("li.na", frozenset({"sales"}), department="sales")
SERVICE = Actor("zhao.lei", frozenset({"customer_service"}), department="service")
FINANCE = Actor("qian.hui", frozenset({"finance"}), department="finance")
TECHNICAL = Actor("he.jun", frozenset({"technical"}), department="technical")

PHONE = "+86 138-0013-8000"
EMAIL = "cuihua.ouyang@jade-weaving.cn"
LEGAL_REPRESENTATIVE = "欧阳翠花"
CONTACT = "司马青莲"
CONTACT_PHONE = "+86 139-0013-9000"


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> Ledger:
    return make_ledger(database_url, data_dir=tmp_path / "var")


def with_policy(make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
                overrides: str) -> Ledger:
    """A ledger whose policy is the tests' one with ``overrides`` (TOML tables) on top."""
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_HASHING_POLICY.read_text(encoding="utf-8") + overrides,
                      encoding="utf-8")
    return make_ledger(database_url, data_dir=tmp_path / "var", policy_file=policy)


def found(ledger: Ledger, actor: Actor, **criterion: str) -> dict[str, Any]:
    return ask(ledger, FindCustomersBy(**criterion), actor)


def ids(answer: dict[str, Any]) -> set[str]:
    return {customer["customer_id"] for customer in answer["customers"]}


@pytest.mark.parametrize("reader", [SALES, SERVICE], ids=lambda a: sorted(a.roles)[0])
def test_readers_cleared_for_contact_data_find_by_every_criterion(
        ledger: Ledger, reader: Actor) -> None:
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    for criterion in ({"phone": PHONE}, {"phone": CONTACT_PHONE}, {"email": EMAIL},
                      {"person": LEGAL_REPRESENTATIVE}, {"person": CONTACT}):
        assert ids(found(ledger, reader, **criterion)) == {customer_id}, criterion
    assert found(ledger, reader, phone=PHONE)["searched_fields"] == [
        "basic.fax", "basic.phone", "contacts"]


@pytest.mark.parametrize("reader", [FINANCE, TECHNICAL], ids=lambda a: sorted(a.roles)[0])
@pytest.mark.parametrize(("criterion", "known", "unknown"), [
    ("phone", PHONE, "+86 131-0000-0009"),
    ("phone", CONTACT_PHONE, "+86 131-0000-0008"),
    ("email", EMAIL, "nobody@example.cn"),
    ("person", LEGAL_REPRESENTATIVE, "令狐冲"),
    ("person", CONTACT, "东方不败"),
])
def test_a_search_by_a_field_the_reader_may_not_read_is_refused_and_audited(
        ledger: Ledger, reader: Actor, criterion: str, known: str, unknown: str) -> None:
    register(ledger, distinctive_profile("zh_CN"))
    ledger.runner.catch_up()
    refusals = []
    for value in (known, unknown):
        with only_a_denial_recorded(ledger.store) as before, pytest.raises(
                PermissionDeniedError) as refused:
            ledger.bus.ask(FindCustomersBy(**{criterion: value}), reader)
        refusals.append((refused.value.message, refused.value.details))
        denial = snapshot_store(ledger.store).added_since(before)[0].decode(ledger.store)
        assert isinstance(denial, AccessRecord.PermissionDenied)
        assert (denial.operation, denial.roles, denial.meta["actor"]) == (
            "find-customers-by", sorted(reader.roles), reader.id)
    # The same answer whether the value belongs to a customer or not: nothing to learn.
    assert refusals[0] == refusals[1]
    message, details = refusals[0]
    assert details["criterion"] == criterion and known not in message


def test_a_person_search_looks_only_where_the_reader_may_read(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    """Cleared for personal data but not for contact data: representatives, not contacts."""
    ledger = with_policy(make_ledger, database_url, tmp_path, """
[access.clearance]
finance = ["financial", "personal"]
""")
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    by_representative = found(ledger, FINANCE, person=LEGAL_REPRESENTATIVE)
    assert ids(by_representative) == {customer_id}
    assert by_representative["searched_fields"] == ["basic.legal_representative"]
    assert ids(found(ledger, FINANCE, person=CONTACT)) == set()
    assert ids(found(ledger, SALES, person=CONTACT)) == {customer_id}


def test_duplicates_are_grouped_only_on_fields_the_reader_may_read(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    ledger = with_policy(make_ledger, database_url, tmp_path, """
[access.permissions]
finance = ["get-customer", "list-duplicates"]

[access.clearance]
finance = ["financial", "personal"]
""")
    original = register(ledger, distinctive_profile("zh_CN"))
    english = distinctive_profile("en_US")
    same_phone = register(ledger, english | {"basic": {**english["basic"], "phone": PHONE}})
    twin = distinctive_profile("zh_CN")
    same_name_and_address = register(ledger, twin | {"contacts": [], "basic": {
        **twin["basic"], "phone": "+86 131 0000 0002", "email": "other@jade-weaving.cn"}})

    def groups(reader: Actor) -> list[tuple[str, set[str]]]:
        answer = ask(ledger, ListDuplicates(), reader)
        return [(group["reason"], set(group["customer_ids"])) for group in answer["groups"]]

    info_head = Actor("sun.li", frozenset({"info_mgmt_head"}))
    assert ("same phone", {original, same_phone}) in groups(info_head)
    assert groups(FINANCE) == [("same name and address", {original, same_name_and_address})]


def test_a_name_search_needs_clearance_when_the_policy_makes_names_sensitive(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    ledger = with_policy(make_ledger, database_url, tmp_path, """
[access.sensitive_fields]
identity = ["basic.name"]

[access.clearance]
sales = ["contact", "trade_secret", "identity"]
""")
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    prefix = distinctive_profile("zh_CN")["basic"]["name"][:2]
    answer = ask(ledger, FindCustomers(name_prefix=prefix), SALES)
    assert ids(answer) == {customer_id}
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError) as refused:
        ledger.bus.ask(FindCustomers(name_prefix=prefix), FINANCE)
    assert refused.value.details == {"criterion": "name", "fields": ["basic.name"]}

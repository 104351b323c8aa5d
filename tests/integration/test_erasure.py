"""Personal data at rest and its erasure (ST-3, DP-1, DL-3, DL-4), on SQLite and PostgreSQL.

Given customers registered and changed with known personal values, the raw bytes of the
database hold none of those values; when one customer is erased through the whole
workflow, nothing of it can be read by any query, in the live database or in a copy taken
before, while its events stay stored and every other customer stays fully readable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.crypto import ERASED
from ledger.domain.customer import Customer
from ledger.domain.errors import WorkflowViolationError
from projections.history import CustomerHistory
from projections.privacy import ErasureCertificate, FindCustomersBy
from projections.queries import FindCustomers, GetCustomer, ListPendingProposals
from service.bootstrap import Ledger
from tests.privacy_support import (
    AUDITOR,
    CHECKER,
    CLERK,
    DELETION_DETAILS,
    DISTINCTIVE,
    INFO_HEAD,
    SALES_HEAD,
    SYSADMIN,
    Backups,
    ask,
    change,
    database_bytes,
    distinctive_profile,
    duplicate_groups,
    erase,
    found_by,
    leaks,
    personal_change_values,
    personal_values,
    register,
    request_deletion,
    where_found,
)
from tests.store_snapshot import snapshot_store

ZH_COMPANY = DISTINCTIVE["zh_CN"]["basic__name"]
EN_COMPANY = DISTINCTIVE["en_US"]["basic__name"]
VERIFIED = {"basic.phone": "+86 135-7788-9900",
            "other.special_requirements": "只在周三上午收货卸货区在东侧",
            "contacts": [{"name": "诸葛明月", "phone": "+86 135 1122 3344",
                          "email": "MingYue.Zhuge@jade-weaving.cn"}]}
PENDING = {"basic.legal_representative": "Wilhelmina Thistlethwaite",
           "basic.email": "W.Thistlethwaite@Jade-Weaving.cn"}
ZH_VALUES = (personal_values(distinctive_profile("zh_CN"))
             | personal_change_values(VERIFIED) | personal_change_values(PENDING))
EN_VALUES = personal_values(distinctive_profile("en_US"))


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    """Development key files for this test only (never the checkout's ./var)."""
    return tmp_path / "var"


@pytest.fixture
def open_ledger(make_ledger: Callable[..., Ledger], keys_dir: Path) -> Callable[..., Ledger]:
    def open_(url: str, **settings: Any) -> Ledger:
        return make_ledger(url, data_dir=keys_dir, **settings)

    return open_


@pytest.fixture
def live(open_ledger: Callable[..., Ledger], database_url: str) -> Ledger:
    return open_ledger(database_url)


def registered_and_changed(ledger: Ledger) -> tuple[str, str]:
    """Given a Chinese and an English customer; the Chinese one has a verified change and
    a pending one, and both have a snapshot, so every kind of stored record holds values."""
    zh = register(ledger, distinctive_profile("zh_CN"))
    en = register(ledger, distinctive_profile("en_US"))
    change(ledger, zh, VERIFIED)
    change(ledger, zh, PENDING, verify=False)
    for customer_id in (zh, en):
        ledger.store.take_snapshot(UUID(customer_id))
    ledger.runner.catch_up()
    return zh, en


# Raw bytes -----------------------------------------------------------------------------

def test_the_scan_finds_every_value_a_policy_leaves_unprotected(
        open_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("personal_fields = []\n", encoding="utf-8")
    ledger = open_ledger(database_url, policy_file=policy)
    registered_and_changed(ledger)
    places = database_bytes(database_url)
    missed = ZH_VALUES - set(leaks(ZH_VALUES, places))
    assert missed == set(), "the scan must see every value that is stored in plaintext"
    if ledger.settings.backend == "postgres":
        assert {"ledger_events", "ledger_snapshots", "customer_view"} <= set(
            where_found("欧阳翠花", places))


def test_no_personal_value_is_stored_in_plaintext(live: Ledger, database_url: str) -> None:
    registered_and_changed(live)
    places = database_bytes(database_url)
    assert leaks(ZH_VALUES | EN_VALUES, places) == {}
    # The same scan does see what is not personal: the company names, in every record kind.
    assert where_found(ZH_COMPANY, places) and where_found(EN_COMPANY, places)
    if live.settings.backend == "sqlite":
        assert any(place.endswith("-wal") for place in places), "the log is read too"
    else:
        assert {"ledger_events", "ledger_snapshots", "customer_view"} <= set(
            where_found(ZH_COMPANY, places))


def test_after_erasure_nothing_of_the_customer_remains_readable_in_the_database(
        live: Ledger, database_url: str) -> None:
    zh, en = registered_and_changed(live)
    wrapped = stored_wrapped_key(live, zh)
    if live.settings.backend == "sqlite":
        with live.keys.db.transaction() as cursor:  # as SQLite builds without secure delete
            cursor.execute("PRAGMA secure_delete = OFF")
    erase(live, zh)
    live.runner.catch_up()
    places = database_bytes(database_url)
    assert leaks(ZH_VALUES, places) == {}
    # Free text about the customer too (issue 16, B): the deletion request's details.
    assert leaks({DELETION_DETAILS}, places) == {}
    keys = database_bytes(live.settings.effective_keystore_url)
    assert not any(wrapped in data for data in keys.values()), "the wrapped key is gone"
    assert stored_wrapped_key(live, en) is not None
    if live.settings.backend == "postgres":
        # The events still hold the non-personal facts; the read models hold nothing.
        assert set(where_found(ZH_COMPANY, places)) <= {"ledger_events", "ledger_snapshots"}


def stored_wrapped_key(ledger: Ledger, customer_id: str) -> bytes | None:
    with ledger.keys.db.snapshot() as cursor:
        row = cursor.one("SELECT wrapped FROM data_keys WHERE customer_id = :cid",
                         {"cid": customer_id})
    return bytes(row[0]) if row else None


# Queries after erasure -----------------------------------------------------------------

def test_the_erased_customer_shows_as_a_tombstone_and_is_found_by_nothing(live: Ledger) -> None:
    zh, en = registered_and_changed(live)
    erase(live, zh)
    view = ask(live, GetCustomer(customer_id=UUID(zh)))["customer"]
    assert (view["erased"], view["profile"], view["name"]) == (True, {}, None)
    assert zh not in {c["customer_id"] for c in ask(
        live, FindCustomers(name_prefix=ZH_COMPANY[:4]))["customers"]}
    assert found_by(live, phone="+86 138 0013 8000") == set()
    assert found_by(live, email="cuihua.ouyang@jade-weaving.cn") == set()
    assert found_by(live, person="司马青莲") == set()
    assert ask(live, ListPendingProposals(customer_id=UUID(zh)))["proposals"] == []
    assert ask(live, GetCustomer(customer_id=UUID(en)))["customer"]["profile"]["basic"][
        "legal_representative"] == "Zebediah Quillfeather"


def test_history_keeps_the_facts_and_shows_erased_for_personal_values(live: Ledger) -> None:
    zh, _ = registered_and_changed(live)
    before = ask(live, CustomerHistory(customer_id=UUID(zh)), INFO_HEAD)
    erase(live, zh)
    history = ask(live, CustomerHistory(customer_id=UUID(zh)), INFO_HEAD)
    verified = next(e for e in history["events"] if e["event"] == "ChangeVerified")
    assert verified["facts"]["values"] == dict.fromkeys(VERIFIED, ERASED)
    assert (verified["actor"], history["erased"]) == (CHECKER.id, True)
    assert history["events"][-1]["event"] == "Erased"
    assert history["events"][-1]["facts"]["ground"] == "relationship_ended"
    assert [e["recorded_at"] for e in history["events"][:-1]] == [
        e["recorded_at"] for e in before["events"]]
    assert not leaks(ZH_VALUES, {"history": json.dumps(
        history, ensure_ascii=False).encode()})


def test_every_event_of_the_erased_customer_is_still_stored_byte_for_byte(
        live: Ledger) -> None:
    zh, _ = registered_and_changed(live)
    before = live.store.app_recorder.select_events(UUID(zh))
    erase(live, zh)
    after = live.store.app_recorder.select_events(UUID(zh))
    assert [bytes(e.state) for e in after[:-1]] == [bytes(e.state) for e in before]
    assert len(after) == len(before) + 1
    assert after[-1].topic.endswith("Customer.Erased")


def test_erasure_leaves_other_customers_fully_readable(live: Ledger) -> None:
    zh, en = registered_and_changed(live)
    before = ask(live, GetCustomer(customer_id=UUID(en)))["customer"]["profile"]
    erase(live, zh)
    assert ask(live, GetCustomer(customer_id=UUID(en)))["customer"]["profile"] == before
    assert found_by(live, phone="+8613700994411") == {en}


# Blind-index search and duplicates ------------------------------------------------------

def test_find_by_phone_typed_differently_email_in_any_case_and_person(live: Ledger) -> None:
    zh = register(live, distinctive_profile("zh_CN"))
    assert found_by(live, phone="+8613800138000") == {zh}
    assert found_by(live, phone="+86 138-0013-8000") == {zh}
    assert found_by(live, email="CUIHUA.OUYANG@JADE-WEAVING.CN") == {zh}
    assert found_by(live, person="欧阳翠花") == {zh}
    assert found_by(live, person="司马青莲") == {zh}
    assert found_by(live, phone="+86 138-0013-8001") == set()


def test_search_follows_verified_changes(live: Ledger) -> None:
    zh = register(live, distinctive_profile("zh_CN"))
    change(live, zh, VERIFIED)
    assert found_by(live, phone="+86 135 7788 9900") == {zh}
    assert found_by(live, phone="+86 138 0013 8000") == set()
    assert found_by(live, person="诸葛明月") == {zh}
    assert found_by(live, person="司马青莲") == set()


def test_duplicates_are_grouped_by_phone_email_and_name_with_address(live: Ledger) -> None:
    original = register(live, distinctive_profile("zh_CN"))
    same_phone = register(live, distinctive_profile("en_US") | {"basic": {
        **distinctive_profile("en_US")["basic"], "phone": "+86 138 0013 8000"}})
    same_email = register(live, distinctive_profile("en_US") | {"basic": {
        **distinctive_profile("en_US")["basic"], "phone": "+86 131 0000 0001",
        "email": "CUIHUA.Ouyang@jade-weaving.cn"}})
    same_name_and_address = register(live, distinctive_profile("zh_CN") | {"basic": {
        **distinctive_profile("zh_CN")["basic"], "phone": "+86 131 0000 0002",
        "email": "other@jade-weaving.cn"}, "contacts": []})
    groups = duplicate_groups(live)
    assert ("same phone", {original, same_phone}) in groups
    assert ("same email", {original, same_email}) in groups
    assert ("same name and address", {original, same_name_and_address}) in groups
    erase(live, original)
    assert all(original not in ids for _, ids in duplicate_groups(live))


# The certificate ------------------------------------------------------------------------

def test_the_erasure_certificate_names_the_request_people_times_positions_and_key(
        live: Ledger) -> None:
    zh, _ = registered_and_changed(live)
    key_id = live.keys.data_key(zh)[0]  # type: ignore[index]
    executed = erase(live, zh)
    request_id = executed["result"]["request_id"]
    certificate = ask(live, ErasureCertificate(request_id=UUID(request_id)), AUDITOR)
    assert json.loads(json.dumps(certificate)) == certificate
    assert (certificate["customer_id"], certificate["request_id"]) == (zh, request_id)
    assert certificate["approvers"] == [SALES_HEAD.id, INFO_HEAD.id]
    assert [certificate["steps"][s]["by"] for s in ("requested", "executed")] == [
        CLERK.id, SYSADMIN.id]
    assert all(certificate["steps"][s]["at"] for s in certificate["steps"])
    assert {step: certificate["steps"][step]["position"] for step in certificate["steps"]
            } == positions_of_request(live, request_id)
    assert (certificate["key_id_destroyed"], certificate["key_destroyed"]) == (key_id, True)


def test_the_certificate_can_be_read_right_after_the_execution(live: Ledger) -> None:
    """Read-your-writes: asked with the execution's position, the certificate waits for the
    read models to reach it and says which position it reflects."""
    zh, _ = registered_and_changed(live)
    executed = erase(live, zh)

    certificate = ask(live, ErasureCertificate(request_id=UUID(executed["result"]["request_id"]),
                                               min_position=executed["position"]), AUDITOR)

    assert certificate["reflects_position"] >= executed["position"]
    assert certificate["steps"]["executed"]["position"] <= certificate["reflects_position"]


def test_no_certificate_before_execution(live: Ledger) -> None:
    zh = register(live, distinctive_profile("zh_CN"))
    request_id = request_deletion(live, zh)
    with pytest.raises(WorkflowViolationError):
        ask(live, ErasureCertificate(request_id=UUID(request_id)), AUDITOR)


def positions_of_request(ledger: Ledger, request_id: str) -> dict[str, int]:
    """Where each step of the request is in the global log, as the store says."""
    steps = {"Requested": "requested", "Reviewed": "reviewed", "Approved": "approved",
             "Executed": "executed"}
    return {steps[n.topic.rsplit(".", 1)[1]]: n.id for n in ledger.store.read_log(0)
            if n.originator_id == UUID(request_id)}


# Copies taken before the erasure --------------------------------------------------------

@pytest.fixture
def backups(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backups]:
    taken = Backups(tmp_path, lambda: str(request.getfixturevalue("postgres_admin_url")))
    yield taken
    taken.drop_all()


def test_a_copy_taken_before_erasure_yields_nothing_of_the_erased_customer(
        backups: Backups, open_ledger: Callable[..., Ledger],
        database_url: str) -> None:
    first = open_ledger(database_url)
    zh, en = registered_and_changed(first)
    twin = register(first, distinctive_profile("en_US") | {"basic": {
        **distinctive_profile("en_US")["basic"], "phone": VERIFIED["basic.phone"]}})
    keystore = first.settings.effective_keystore_url
    first.close()
    backup = backups.copy(database_url)
    erase(open_ledger(database_url), zh)
    restored = open_ledger(backup, keystore_url=keystore)
    answers = answers_about(restored, zh)
    # The twin's own phone is in the answers by right; nothing else of the erased one is.
    assert leaks(ZH_VALUES - {"+8613577889900"}, {"answers": answers.encode()}) == {}
    assert found_by(restored, phone=VERIFIED["basic.phone"]) == {twin}
    assert all(zh not in ids for _, ids in duplicate_groups(restored))
    assert ask(restored, GetCustomer(customer_id=UUID(en)))["customer"]["profile"]["basic"][
        "email"] == "z.quillfeather@larkspur-mills.com"


def answers_about(ledger: Ledger, customer_id: str) -> str:
    """Every query's answer that could mention the customer, as one JSON text."""
    answers = [
        ask(ledger, GetCustomer(customer_id=UUID(customer_id))),
        ask(ledger, FindCustomers(name_prefix=ZH_COMPANY[:2])),
        ask(ledger, ListPendingProposals(customer_id=UUID(customer_id))),
        ask(ledger, CustomerHistory(customer_id=UUID(customer_id)), INFO_HEAD),
        *(ask(ledger, FindCustomersBy(**{kind: value})) for kind, value in (
            ("phone", "+8613577889900"), ("email", "cuihua.ouyang@jade-weaving.cn"),
            ("person", "欧阳翠花"), ("person", "诸葛明月"))),
    ]
    return json.dumps(answers, ensure_ascii=False)


def test_a_snapshot_taken_after_erasure_opens_to_erased_values(live: Ledger) -> None:
    zh, _ = registered_and_changed(live)
    erase(live, zh)
    live.store.take_snapshot(UUID(zh))
    customer = live.store.repository.get(UUID(zh))
    assert isinstance(customer, Customer) and customer.erased
    assert live.protector.open_profile(zh, customer.profile)["basic"]["phone"] == ERASED
    assert any(r.originator_id == UUID(zh) for r in snapshot_store(live.store).snapshots)

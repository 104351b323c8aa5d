"""What lies outside the hash chain, checked against the log (AU-6), on SQLite and
PostgreSQL: a rogue administrator edits a read-model row, a snapshot or the key store with
direct SQL, and the verification names exactly what was changed; a live customer whose
key was deleted fails to read with ``key_material`` instead of reading as ``[erased]``."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from ledger.crypto import ERASED, KeyMaterialError
from ledger.key_audit import (
    ERASED_IN_KEY_STORE_ONLY,
    KEY_FOR_ERASED,
    KEY_WITHOUT_CUSTOMER,
    MISSING_KEY,
    KeyFinding,
    verify_keys,
)
from ledger.snapshot_audit import verify_snapshots
from projections.verification import ReadModelCheck, verify_read_models
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.integration.raw_tables import RawTables
from tests.privacy_support import change, distinctive_profile, erase, register

pytestmark = pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")


def customers(ledger: Ledger) -> tuple[str, str, str]:
    """Two live customers (one changed, with a snapshot) and an erased one, all followed."""
    kept = register(ledger, distinctive_profile("zh_CN"))
    other = register(ledger, distinctive_profile("en_US"))
    gone = register(ledger, distinctive_profile("en_US"))
    change(ledger, kept, {"basic.phone": "+86 137 1111 2222"})
    erase(ledger, gone)
    ledger.store.take_snapshot(UUID(kept))
    ledger.runner.catch_up()
    return kept, other, gone


def read_models(ledger: Ledger) -> dict[str, ReadModelCheck]:
    return {check.name: check for check in verify_read_models(
        ledger.store, ledger.views, list(ledger.runner.projections.values()), batch_size=2)}


def keys_of(ledger: Ledger) -> RawTables:
    return RawTables(ledger.settings.effective_keystore_url)


def live_tables(ledger: Ledger) -> dict[str, object]:
    with ledger.views.snapshot() as cursor:
        dumps = {p.name: p.dump(cursor) for p in ledger.runner.projections.values()}
        if ledger.views.dialect == "postgres":
            dumps["schemas"] = cursor.all("SELECT nspname FROM pg_namespace WHERE nspname"
                                          " LIKE :prefix", {"prefix": "ledger_verify_%"})
    return dumps


def test_a_ledger_that_only_followed_its_log_verifies_clean(ledger: Ledger) -> None:
    customers(ledger)
    before = live_tables(ledger)

    checks = read_models(ledger)
    keys = verify_keys(ledger.store, ledger.keys)

    assert live_tables(ledger) == before, "the live read models are only read"

    assert set(checks) == set(ledger.runner.projections)
    assert [c.as_dict() for c in checks.values() if not c.ok] == []
    assert all(c.position == ledger.store.head_position() or c.name != "customer_view"
               for c in checks.values())
    assert verify_snapshots(ledger.store, ledger.views).as_dict() == {
        "ok": True, "checked": 1, "findings": [], "findings_total": 0}
    # The spare keys this process made ahead belong to no customer yet, legitimately.
    assert (keys.ok, keys.live_customers, keys.erased_customers) == (True, 2, 1)
    assert keys.spare_keys == keys.stored_keys - 2 > 0


def test_an_edited_customer_view_row_is_named_with_its_key_and_columns(
        ledger: Ledger, database_url: str) -> None:
    kept, _, _ = customers(ledger)
    with RawTables(database_url) as raw:
        raw.sql("UPDATE customer_view SET name = ?, version = 99 WHERE customer_id = ?",
                "Forged Trading", kept)

    checks = read_models(ledger)

    assert [name for name, check in checks.items() if not check.ok] == ["customer_view"]
    view = checks["customer_view"]
    assert view.live_digest != view.rebuilt_digest
    assert view.differences == [{"table": "customer_view", "problem": "row differs",
                                 "columns": ["version", "name"],
                                 "key": {"customer_id": kept}}]


def test_rows_added_to_or_deleted_from_a_read_model_are_named(
        ledger: Ledger, database_url: str) -> None:
    kept, other, _ = customers(ledger)
    with RawTables(database_url) as raw:
        raw.sql("DELETE FROM customer_search WHERE customer_id = ?", other)
        raw.sql("INSERT INTO customer_search (customer_id, source, kind, digest) "
                "VALUES (?, 'basic.phone', 'phone', 'feedfacefeedface')", kept)

    search = read_models(ledger)["customer_search"]

    problems = {(d["problem"], d["key"]["customer_id"]) for d in search.differences}
    assert problems == {("row not in the rebuilt read model", kept),
                        ("row missing from the live read model", other)}
    assert search.differences_total == len(search.differences) > 2


def test_an_edited_snapshot_is_reported_with_its_aggregate_and_version(
        ledger: Ledger, database_url: str) -> None:
    kept, _, _ = customers(ledger)
    with RawTables(database_url) as raw:
        raw.replace_in_snapshot(kept, "翡翠织造", "伪造")

    found = verify_snapshots(ledger.store, ledger.views).as_dict()

    assert found["ok"] is False
    assert [(f["aggregate_id"], f["version"]) for f in found["findings"]] == [(kept, 3)]


def test_every_key_that_does_not_follow_from_the_log_is_named_by_customer_id(
        ledger: Ledger) -> None:
    kept, other, gone = customers(ledger)
    stray = str(uuid4())
    with keys_of(ledger) as raw:
        wrapped, kek_id = raw.sql("SELECT wrapped, kek_id FROM data_keys "
                                  "WHERE customer_id = ?", kept)[0]
        raw.sql("DELETE FROM data_keys WHERE customer_id = ?", kept)
        raw.sql("INSERT INTO data_keys (customer_id, key_id, wrapped, kek_id, created_at) "
                "VALUES (?, 'forged-key-1', ?, ?, 'now')", stray, wrapped, kek_id)
        raw.sql("INSERT INTO data_keys (customer_id, key_id, wrapped, kek_id, created_at) "
                "VALUES (?, 'forged-key-2', ?, ?, 'now')", gone, wrapped, kek_id)
        raw.sql("DELETE FROM data_keys WHERE customer_id = ?", other)
        raw.sql("INSERT INTO erased_keys (customer_id, key_id, erased_at) VALUES (?, ?, 'now')",
                other, None)

    report = verify_keys(ledger.store, ledger.keys)

    assert not report.ok
    assert sorted(report.findings, key=lambda f: f.kind) == sorted([
        KeyFinding(MISSING_KEY, kept), KeyFinding(ERASED_IN_KEY_STORE_ONLY, other),
        KeyFinding(KEY_FOR_ERASED, gone), KeyFinding(KEY_WITHOUT_CUSTOMER, stray),
    ], key=lambda f: f.kind)


def test_a_live_customer_whose_key_was_deleted_fails_to_read_instead_of_reading_erased(
        ledger: Ledger, make_ledger: Callable[..., Ledger], database_url: str) -> None:
    kept, other, _ = customers(ledger)
    open_account(ledger, "wang.fang", "info_specialist", department="sales")
    with keys_of(ledger) as raw:
        raw.sql("DELETE FROM data_keys WHERE customer_id = ?", kept)
    restarted = make_ledger(database_url)  # a new process: no key cached
    restarted.runner.catch_up()
    client = LedgerClient.in_process(restarted, "li.na", roles=["info_specialist"])

    for read in (client.get_customer, client.customer_history):
        with pytest.raises(KeyMaterialError) as refused:
            read(kept)
        assert refused.value.code == "key_material"
        assert refused.value.details == {"customer_id": kept}
    with TestClient(create_app(restarted), client=("127.0.0.1", 50000)) as http:
        token = http.post("/auth/login", json={"username": "wang.fang", "password": PASSWORD}
                          ).json()["token"]
        answer = http.get(f"/customers/{kept}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "key_material"
    assert ERASED not in answer.text
    # A rebuild goes past the customer: no search entries for it, every read model current.
    restarted.runner.rebuild()
    assert set(restarted.runner.positions().values()) == {restarted.store.head_position()}
    with restarted.views.snapshot() as cursor:
        assert cursor.all("SELECT 1 FROM customer_search WHERE customer_id = :cid",
                          {"cid": kept}) == []
        assert cursor.all("SELECT 1 FROM customer_search WHERE customer_id = :cid",
                          {"cid": other}) != []

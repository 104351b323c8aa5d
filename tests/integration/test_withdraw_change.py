"""A withdrawn proposal leaves the queue, is marked withdrawn among key-field changes, and
the read models still equal a rebuild; over HTTP it is one more command route."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient

from projections.verification import verify_read_models
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.http import create_app
from tests.accounts import PASSWORD, open_account
from tests.factories import make_profile


def test_a_withdrawn_proposal_leaves_every_read_model_consistent(
        make_ledger: Callable[..., Ledger], database_url: str) -> None:
    ledger = make_ledger(database_url)
    client = LedgerClient.in_process(ledger, "li.na", roles=["sales"], department="sales")
    customer_id = client.register_customer(make_profile(seed=41))["aggregate_id"]
    proposal_id = client.propose_change(customer_id, {"basic.email": "later@example.com"},
                                        date(2026, 11, 20))["result"]["proposal_id"]

    client.withdraw_change(customer_id, proposal_id)
    ledger.runner.catch_up()

    assert client.pending_proposals(customer_id)["proposals"] == []
    with ledger.views.snapshot() as cursor:
        status = cursor.one("SELECT status FROM key_changes WHERE proposal_id = :pid",
                            {"pid": proposal_id})
    assert status == ("withdrawn",)
    assert client.get_customer(customer_id)["customer"]["version"] == 3
    checks = verify_read_models(ledger.store, ledger.views,
                                list(ledger.runner.projections.values()))
    assert all(check.ok for check in checks)


def test_over_http_the_proposer_withdraws_and_another_cannot(
        make_ledger: Callable[..., Ledger], sqlite_url: str) -> None:
    ledger = make_ledger(sqlite_url)
    open_account(ledger, "li.na", "sales")
    open_account(ledger, "zhao.lei", "customer_service")
    ledger.runner.catch_up()
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as http:
        def headers(username: str) -> dict[str, str]:
            login = http.post("/auth/login", json={"username": username, "password": PASSWORD})
            return {"Authorization": f"Bearer {login.json()['token']}"}

        li_na, zhao_lei = headers("li.na"), headers("zhao.lei")
        customer_id = http.post("/commands/register-customer", headers=li_na, json={
            "profile": make_profile(seed=42)}).json()["aggregate_id"]
        proposal_id = http.post("/commands/propose-change", headers=li_na, json={
            "customer_id": customer_id, "changes": {"basic.email": "x@example.com"},
            "happened_on": "2026-11-20"}).json()["result"]["proposal_id"]
        body = {"customer_id": customer_id, "proposal_id": proposal_id}

        refused = http.post("/commands/withdraw-change", headers=zhao_lei, json=body)
        withdrawn = http.post("/commands/withdraw-change", headers=li_na, json=body)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "workflow_violation"
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["result"]["proposal_id"] == proposal_id

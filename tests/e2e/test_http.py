"""The HTTP API as a client drives it: the real server in a subprocess, LedgerClient over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from commands.registry import ALL_COMMANDS
from ledger.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
    WorkflowViolationError,
)
from service.client import LedgerClient
from tests.e2e.conftest import PASSWORD, RunningServer
from tests.factories import make_profile

pytestmark = pytest.mark.e2e

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def unique_profile(**overrides: Any) -> dict[str, Any]:
    """A valid profile whose name no other scenario uses, so searches stay per-test."""
    return make_profile(basic__name=f"E2E {uuid.uuid4().hex[:10]} 贸易有限公司", **overrides)


@pytest.fixture
def client(server: RunningServer) -> Iterator[Callable[[str], LedgerClient]]:
    opened: list[LedgerClient] = []

    def open_as(actor: str) -> LedgerClient:
        opened.append(LedgerClient.over_http(server.base_url, username=actor,
                                             password=PASSWORD, timeout=30))
        return opened[-1]

    yield open_as
    for one in opened:
        one.close()


def bearer(server: RunningServer, username: str) -> dict[str, str]:
    login = httpx.post(f"{server.base_url}/auth/login", timeout=30,
                       json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """Raw HTTP, logged in as li.na (sales)."""
    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers=bearer(server, "li.na")) as raw:
        yield raw


def head_position(http: httpx.Client) -> int:
    position: int = http.get("/healthz").json()["head_position"]
    return position


def registered(client: LedgerClient, **overrides: Any) -> str:
    customer_id: str = client.register_customer(unique_profile(**overrides))["aggregate_id"]
    return customer_id


def test_a_proposed_change_applies_once_another_person_verifies_it(
        client: Callable[[str], LedgerClient]) -> None:
    sales, specialist = client("li.na"), client("wang.fang")
    profile = unique_profile()
    customer_id = sales.register_customer(profile, reason="met at trade show")["aggregate_id"]

    proposed = sales.propose_change(customer_id, {"basic.email": "New.Buyer@Example.COM"},
                                    happened_on="2024-03-01", expected_version=1)
    proposal_id = proposed["result"]["proposal_id"]
    pending = specialist.pending_proposals(customer_id, min_position=proposed["position"])
    assert [(p["proposal_id"], p["fields"], p["proposed_by"]) for p in pending["proposals"]] == [
        (proposal_id, ["basic.email"], "li.na")]

    verified = specialist.verify_change(customer_id, proposal_id, expected_version=2)
    view = sales.get_customer(customer_id, min_position=verified["position"])
    assert view["reflects_position"] >= verified["position"]
    assert view["customer"]["version"] == 3
    assert view["customer"]["profile"]["basic"]["email"] == "new.buyer@example.com"

    name = profile["basic"]["name"]
    found = sales.find_customers(name[:12].lower(), min_position=verified["position"])
    assert [c["customer_id"] for c in found["customers"]] == [customer_id]
    assert specialist.pending_proposals(
        customer_id, min_position=verified["position"])["proposals"] == []

    with pytest.raises(PermissionDeniedError):
        sales.customer_history(customer_id)  # the audit trail is for specialists and auditors
    history = specialist.customer_history(customer_id)["events"]
    assert [(e["event"], e["actor"]) for e in history] == [
        ("Registered", "li.na"), ("ChangeProposed", "li.na"), ("ChangeVerified", "wang.fang")]
    assert history[0]["reason"] == "met at trade show"


def test_a_rejected_change_leaves_the_record_as_it_was(
        client: Callable[[str], LedgerClient]) -> None:
    sales, specialist = client("li.na"), client("wang.fang")
    customer_id = registered(sales, basic__email="old@example.com")
    proposal_id = sales.propose_change(customer_id, {"basic.email": "new@example.com"},
                                       happened_on="2024-03-01")["result"]["proposal_id"]

    rejected = specialist.reject_change(customer_id, proposal_id, "no evidence of the change")

    view = sales.get_customer(customer_id, min_position=rejected["position"])["customer"]
    assert view["profile"]["basic"]["email"] == "old@example.com"
    assert specialist.pending_proposals(
        customer_id, min_position=rejected["position"])["proposals"] == []


def test_an_invalid_registration_is_refused_with_every_bad_field_and_writes_nothing(
        client: Callable[[str], LedgerClient], http: httpx.Client) -> None:
    profile = unique_profile(basic__email="not-an-email", basic__phone=None,
                             source_channel="carrier pigeon")
    del profile["basic"]["legal_representative"]
    sales = client("li.na")  # logging in is audited: before the count starts
    before = head_position(http)

    response = http.post("/commands/register-customer", json={"profile": profile})
    with pytest.raises(ValidationFailedError) as refused:
        sales.register_customer(profile)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    expected = ["basic.email", "basic.legal_representative", "source_channel"]
    assert [p["field"] for p in response.json()["error"]["details"]["problems"]] == expected
    assert refused.value.fields == expected
    assert "not-an-email" not in response.text  # the refusal never echoes personal data
    assert head_position(http) == before


def test_an_unknown_customer_is_not_found(client: Callable[[str], LedgerClient],
                                          http: httpx.Client) -> None:
    assert http.get(f"/customers/{UNKNOWN_ID}").status_code == 404
    with pytest.raises(NotFoundError):
        client("wang.fang").customer_history(UNKNOWN_ID)
    with pytest.raises(NotFoundError):
        client("li.na").propose_change(UNKNOWN_ID, {"basic.fax": "+862112345678"},
                                       happened_on="2024-03-01")


def test_a_write_against_a_stale_version_is_a_conflict(
        client: Callable[[str], LedgerClient], http: httpx.Client) -> None:
    sales = client("li.na")
    customer_id = registered(sales)
    sales.propose_change(customer_id, {"basic.fax": "+862112345678"}, happened_on="2024-03-01")
    before = head_position(http)

    response = http.post("/commands/propose-change", json={
        "customer_id": customer_id, "changes": {"basic.fax": "+862187654321"},
        "happened_on": "2024-03-02", "expected_version": 1})
    with pytest.raises(ConflictError):
        sales.propose_change(customer_id, {"basic.fax": "+862187654321"},
                             happened_on="2024-03-02", expected_version=1)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert head_position(http) == before


def test_a_proposal_overtaken_by_a_verified_change_to_the_same_field_is_a_conflict(
        client: Callable[[str], LedgerClient]) -> None:
    sales, service, specialist = client("li.na"), client("zhao.lei"), client("wang.fang")
    customer_id = registered(sales)
    first = sales.propose_change(customer_id, {"basic.phone": "+8613900000001"},
                                 happened_on="2024-03-01")["result"]["proposal_id"]
    second = service.propose_change(customer_id, {"basic.phone": "+8613900000002"},
                                    happened_on="2024-03-02")["result"]["proposal_id"]
    specialist.verify_change(customer_id, first)

    with pytest.raises(ConflictError, match=r"basic\.phone"):
        specialist.verify_change(customer_id, second)


def test_the_proposer_cannot_verify_their_own_proposal(
        client: Callable[[str], LedgerClient], server: RunningServer) -> None:
    specialist = client("wang.fang")
    customer_id = registered(specialist)
    proposed = specialist.propose_change(customer_id, {"basic.fax": "+862112345678"},
                                         happened_on="2024-03-01")
    proposal_id = proposed["result"]["proposal_id"]

    with pytest.raises(WorkflowViolationError, match="proposed it"):
        specialist.verify_change(customer_id, proposal_id)
    response = httpx.post(f"{server.base_url}/commands/verify-change", timeout=30,
                          json={"customer_id": customer_id, "proposal_id": proposal_id},
                          headers=bearer(server, "wang.fang"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "workflow_violation"
    still_pending = specialist.pending_proposals(customer_id,
                                                 min_position=proposed["position"])
    assert [p["proposal_id"] for p in still_pending["proposals"]] == [proposal_id]


def test_a_request_without_a_token_is_refused(server: RunningServer,
                                             http: httpx.Client) -> None:
    before = head_position(http)
    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        write = anonymous.post("/commands/register-customer",
                               json={"profile": unique_profile()})
        read = anonymous.get("/customers", params={"name_prefix": "E2E"})
        legacy = anonymous.get("/customers", params={"name_prefix": "E2E"},
                               headers={"X-Ledger-Actor": "li.na"})

    for response in (write, read, legacy):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthenticated"
    assert head_position(http) == before


def test_a_retried_command_id_returns_the_first_outcome_and_writes_nothing(
        client: Callable[[str], LedgerClient], http: httpx.Client) -> None:
    sales = client("li.na")
    profile, command_id = unique_profile(), str(uuid.uuid4())
    first = sales.register_customer(profile, command_id=command_id)
    before = head_position(http)

    retried = sales.register_customer(profile, command_id=command_id)

    assert retried["replayed"] is True
    assert retried["aggregate_id"] == first["aggregate_id"]
    assert head_position(http) == before
    with pytest.raises(ConflictError):
        sales.register_customer(unique_profile(), command_id=command_id)


def test_a_read_waiting_for_a_position_never_reached_says_so(
        client: Callable[[str], LedgerClient], http: httpx.Client) -> None:
    customer_id = registered(client("li.na"))

    # The server was started with LEDGER_READ_WAIT_TIMEOUT=2.
    response = http.get(f"/customers/{customer_id}", params={"min_position": 10**9})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_reflected_yet"
    assert response.json()["error"]["details"]["requested"] == 10**9


def test_openapi_lists_every_command_and_query_route(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]

    assert {f"/commands/{name}" for name in ALL_COMMANDS} <= {
        path for path, methods in paths.items() if "post" in methods}
    assert {"/customers", "/customers/{customer_id}", "/customers/{customer_id}/history",
            "/proposals", "/healthz"} <= {path for path, methods in paths.items()
                                           if "get" in methods}


def test_healthz_reports_the_head_and_each_projection_position(
        client: Callable[[str], LedgerClient], http: httpx.Client) -> None:
    outcome = client("li.na").register_customer(unique_profile())
    client("li.na").get_customer(outcome["aggregate_id"], min_position=outcome["position"])

    health = http.get("/healthz").json()

    assert health["status"] == "ok"
    assert health["head_position"] >= outcome["position"]
    assert {"customer_view", "pending_proposals", "key_changes", "accounts"} <= set(
        health["projections"])
    assert all(p >= outcome["position"] for p in health["projections"].values())
    assert health["projection_errors"] == 0


def test_the_real_server_does_not_announce_itself_and_serves_the_docs_offline(
        http: httpx.Client) -> None:
    data = http.get("/healthz")
    docs = http.get("/docs")
    script = http.get("/docs/assets/swagger-ui-bundle.js")

    assert "server" not in data.headers and "server" not in docs.headers
    assert data.headers["Cache-Control"] == "no-store"
    assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


@pytest.mark.postgres
def test_the_server_runs_the_same_flow_on_postgresql(
        postgres_url: str, serve: Callable[..., RunningServer]) -> None:
    server = serve(postgres_url)
    with LedgerClient.over_http(server.base_url, username="li.na", password=PASSWORD
                                ) as sales, \
            LedgerClient.over_http(server.base_url, username="wang.fang",
                                   password=PASSWORD) as specialist:
        customer_id = registered(sales)
        proposal_id = sales.propose_change(customer_id, {"basic.fax": "+862112345678"},
                                           happened_on="2024-03-01")["result"]["proposal_id"]
        with pytest.raises(PermissionDeniedError):
            sales.verify_change(customer_id, proposal_id)  # sales may not verify
        verified = specialist.verify_change(customer_id, proposal_id)

        view = sales.get_customer(customer_id, min_position=verified["position"])

    assert view["customer"]["profile"]["basic"]["fax"] == "+862112345678"
    health = httpx.get(f"{server.base_url}/healthz", timeout=30).json()
    # Then the read and the two logouts were audited, after the verification.
    assert health["head_position"] == verified["position"] + 3

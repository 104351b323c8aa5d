"""Logging in over HTTP (LG-1..LG-5): bearer tokens, 401 and 403, first login, and HTTPS with a
certificate made in the test."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from ledger.credentials import AuthenticationError
from ledger.domain.errors import PermissionDeniedError
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.http import create_app
from tests.accounts import PASSWORD as UNIT_PASSWORD
from tests.accounts import open_account
from tests.conftest import FixedClock
from tests.e2e.conftest import ONE_TIME, PASSWORD, RunningServer
from tests.factories import make_profile

pytestmark = pytest.mark.e2e


def login(base_url: str, username: str, password: str = PASSWORD, **options: object
          ) -> httpx.Response:
    return httpx.post(f"{base_url}/auth/login", timeout=30,
                      json={"username": username, "password": password}, **options)  # type: ignore[arg-type]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_wrong_password_is_401_and_a_wrong_role_is_403(server: RunningServer) -> None:
    assert login(server.base_url, "li.na", "Wrong-Pass#0000").status_code == 401
    assert login(server.base_url, "nobody").status_code == 401
    token = login(server.base_url, "li.na").json()["token"]

    verify = httpx.post(f"{server.base_url}/commands/verify-change", headers=auth(token),
                        json={"customer_id": "00000000-0000-4000-8000-000000000000",
                              "proposal_id": "p"}, timeout=30)
    review = httpx.get(f"{server.base_url}/access-review", headers=auth(token), timeout=30)

    for response in (verify, review):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


def test_a_logged_out_token_is_401(server: RunningServer) -> None:
    token = login(server.base_url, "zhao.lei").json()["token"]
    assert httpx.get(f"{server.base_url}/accounts/zhao.lei", headers=auth(token),
                     timeout=30).status_code == 200  # one's own account is self-service
    assert httpx.post(f"{server.base_url}/auth/logout", headers=auth(token),
                      timeout=30).status_code == 200

    again = httpx.get(f"{server.base_url}/accounts/zhao.lei", headers=auth(token), timeout=30)
    garbage = httpx.get(f"{server.base_url}/accounts/zhao.lei", headers=auth("forged"),
                        timeout=30)

    assert (again.status_code, garbage.status_code) == (401, 401)


def test_the_client_logs_in_and_a_first_login_must_change_the_password(
        serve: Callable[..., RunningServer], sqlite_url: str) -> None:
    server = serve(sqlite_url)
    with LedgerClient.over_http(server.base_url, username="li.na", password=PASSWORD
                                ) as sales:
        assert sales.session and sales.session["roles"] == ["sales"]
        assert sales.register_customer(make_profile())["status"] == "accepted"
    with pytest.raises(AuthenticationError):
        LedgerClient.over_http(server.base_url, username="li.na", password=ONE_TIME)


@pytest.fixture
def in_process_app(make_ledger: Callable[..., Ledger], sqlite_url: str
                   ) -> Iterator[tuple[TestClient, Ledger]]:
    ledger = make_ledger(sqlite_url)
    with TestClient(create_app(ledger), client=("127.0.0.1", 50000)) as client:
        yield client, ledger


def test_an_expired_token_is_401(in_process_app: tuple[TestClient, Ledger],
                                 clock: FixedClock) -> None:
    client, ledger = in_process_app
    open_account(ledger, "li.na", "sales")
    ledger.runner.catch_up()
    token = client.post("/auth/login", json={"username": "li.na",
                                             "password": UNIT_PASSWORD}).json()["token"]
    assert client.get("/accounts/li.na", headers=auth(token)).status_code == 200

    clock.now += timedelta(hours=1)  # longer than the 30-minute idle timeout

    expired = client.get("/accounts/li.na", headers=auth(token))
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def test_a_command_with_a_bad_body_is_401_without_a_session_and_422_with_one(
        in_process_app: tuple[TestClient, Ledger], clock: FixedClock) -> None:
    """A command route checks the session itself, after its body is validated (one hop to
    the thread pool): a caller without a good session still hears 401, never which of its
    fields were wrong; one with a good session hears 422."""
    client, ledger = in_process_app
    open_account(ledger, "li.na", "sales")
    ledger.runner.catch_up()
    token = client.post("/auth/login", json={"username": "li.na",
                                             "password": UNIT_PASSWORD}).json()["token"]
    bad_body = {"profile": "not an object", "unknown": 1}
    route = "/commands/register-customer"

    answers = {
        "no token": client.post(route, json=bad_body),
        "garbage": client.post(route, json=bad_body, headers=auth("not-a-token")),
        "good": client.post(route, json=bad_body, headers=auth(token)),
    }
    clock.now += timedelta(hours=1)  # longer than the 30-minute idle timeout
    answers["expired"] = client.post(route, json=bad_body, headers=auth(token))

    statuses = {name: (answer.status_code, answer.json()["error"]["code"])
                for name, answer in answers.items()}
    assert statuses == {"no token": (401, "unauthenticated"),
                        "garbage": (401, "unauthenticated"),
                        "good": (422, "validation_failed"),
                        "expired": (401, "unauthenticated")}
    assert "profile" not in answers["garbage"].text


@pytest.mark.parametrize("route", ["/customers?limit=0", "/customers/not-a-uuid"])
def test_a_read_with_bad_parameters_is_401_without_a_session_and_422_with_one(
        in_process_app: tuple[TestClient, Ledger], route: str) -> None:
    client, ledger = in_process_app
    open_account(ledger, "li.na", "sales")
    ledger.runner.catch_up()
    token = client.post("/auth/login", json={"username": "li.na",
                                             "password": UNIT_PASSWORD}).json()["token"]

    statuses = [client.get(route, headers=headers).status_code
                for headers in ({}, auth("not-a-token"), auth(token))]

    assert statuses == [401, 401, 422]


def test_a_command_runs_as_the_session_s_account(
        in_process_app: tuple[TestClient, Ledger]) -> None:
    client, ledger = in_process_app
    open_account(ledger, "li.na", "sales")
    ledger.runner.catch_up()
    token = client.post("/auth/login", json={"username": "li.na",
                                             "password": UNIT_PASSWORD}).json()["token"]

    answer = client.post("/commands/register-customer", json={"profile": make_profile()},
                         headers=auth(token))

    assert answer.status_code == 200
    customer = ledger.store.repository.get(UUID(answer.json()["aggregate_id"]))
    registered = [n for n in ledger.store.read_log(0, 10_000)
                  if n.originator_id == customer.id]
    assert len(registered) == 1
    assert ledger.store.mapper.to_domain_event(registered[0]).meta["actor"] == "li.na"


def test_a_one_time_password_session_is_refused_all_but_the_change(
        in_process_app: tuple[TestClient, Ledger]) -> None:
    client, ledger = in_process_app
    ledger.bus.execute_named("create-account", {
        "username": "sun.li", "employee_id": "E-7", "department": "sales",
        "initial_password": "Initial-Pass#2041"}, open_account(ledger, "root", "sysadmin"))
    login_answer = client.post("/auth/login", json={"username": "sun.li",
                                                    "password": "Initial-Pass#2041"}).json()
    assert login_answer["password_change_required"] is True
    headers = auth(login_answer["token"])
    assert client.get("/customers", params={"name_prefix": "a"},
                      headers=headers).status_code == 403
    changed = client.post("/commands/change-password", headers=headers, json={
        "username": "sun.li", "current_password": "Initial-Pass#2041",
        "new_password": PASSWORD})
    assert changed.status_code == 200, changed.text


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, valid for a day, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ledger test")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                  critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_the_service_serves_https_with_a_given_certificate(
        serve: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server = serve(sqlite_url, "--tls-cert", str(cert), "--tls-key", str(key),
                   verify=str(cert))
    assert server.base_url.startswith("https://")

    with LedgerClient.over_http(server.base_url, username="wang.fang", password=PASSWORD,
                                verify=str(cert)) as specialist:
        outcome = specialist.register_customer(make_profile())
        assert outcome["status"] == "accepted"
        with pytest.raises(PermissionDeniedError):
            specialist.access_review()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/healthz", timeout=5)  # an unknown certificate
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.base_url.replace("https://", "http://") + "/healthz", timeout=5)


def test_a_forwarded_for_header_does_not_change_the_address_the_service_checks(
        server: RunningServer) -> None:
    """Only loopback may log in (the default allowed networks); a local process claiming
    to forward for an outside address is still judged by the socket's own address."""
    answer = httpx.post(f"{server.base_url}/auth/login",
                        json={"username": "li.na", "password": PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 200, answer.text

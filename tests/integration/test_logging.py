"""No personal data in logs, ever: every log line is searched for the values a user entered."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from ledger.domain.errors import LedgerError
from ledger.logging import configure_logging
from ledger.settings import Settings
from service.bootstrap import Ledger
from service.client import LedgerClient
from service.http import create_app
from tests.conftest import FixedClock
from tests.factories import make_profile
from tests.http_support import log_in_with_every_role

PERSONAL = {
    "name": "Zyxwvut Quantum 龘龘贸易有限公司",
    "legal_representative": "欧阳娜娜娜",
    "phone": "+8613912345678",
    "email": "Unique.Person@Example-Ledger.cn",
    "city": "鄂尔多斯市",
    "street": "Quuxbar Road 77号",
    "business_scope": "Zorblax 精密仪器 widgets",
    "contact": "Xylophone Contactperson",
    "new_name": "Newname Glorp 新名称",
    "bad_email": "not-an-email-qwerty",
    "bad_phone": "Phone-Zebra-555",
    "reject_reason": "Splendiferous secret 理由",
}


@pytest.fixture(params=["json", "console"])
def log_format(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param
    structlog.reset_defaults()


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    return [line for line in (captured.err + captured.out).splitlines() if line.strip()]


def searchable(line: str) -> str:
    # JSON escapes non-ASCII; a leaked Chinese name must be found in its decoded form too.
    try:
        decoded = json.dumps(json.loads(line), ensure_ascii=False)
    except ValueError:
        decoded = ""
    return (line + "\n" + decoded).casefold()


def leaks(lines: list[str]) -> dict[str, list[str]]:
    values = {**PERSONAL, "national_number": PERSONAL["phone"][3:],
              "email_lowered": PERSONAL["email"].lower()}
    found = {}
    for key, value in values.items():
        hits = [line for line in lines if value.casefold() in searchable(line)]
        if hits:
            found[key] = hits
    return found


def profile() -> dict[str, Any]:
    return make_profile(
        seed=11, basic__name=PERSONAL["name"],
        basic__legal_representative=PERSONAL["legal_representative"],
        basic__phone=PERSONAL["phone"], basic__email=PERSONAL["email"],
        basic__address={"country": "CN", "city": PERSONAL["city"], "street": PERSONAL["street"]},
        basic__business_scope=PERSONAL["business_scope"],
        contacts=[{"name": PERSONAL["contact"], "phone": PERSONAL["phone"]}],
    )


def refused(action: Any) -> None:
    with pytest.raises(LedgerError):
        action()


def test_accepted_and_refused_commands_log_no_personal_data(
    ledger: Ledger, log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Configured inside the test, so the logger writes to the stream capsys captures.
    configure_logging(Settings(log_format=log_format, log_level="debug"))
    alice = LedgerClient.in_process(ledger, "alice", roles=["info_specialist"])
    bob = LedgerClient.in_process(ledger, "bob", roles=["info_specialist"])
    customer_id = alice.register_customer(
        profile(), command_id=f"import-row-{PERSONAL['phone']}")["aggregate_id"]
    refused(lambda: alice.register_customer({}, command_id=f"retry-{PERSONAL['email']}"))
    renamed = alice.propose_change(customer_id, {"basic.name": PERSONAL["new_name"]},
                                   "2026-11-20")["result"]["proposal_id"]
    refused(lambda: bob.verify_change(customer_id, renamed, expected_version=1))
    refused(lambda: alice.verify_change(customer_id, renamed))
    bob.verify_change(customer_id, renamed)
    dropped = alice.propose_change(customer_id, {"basic.email": "other@example.com"},
                                   "2026-11-20")["result"]["proposal_id"]
    bob.reject_change(customer_id, dropped, PERSONAL["reject_reason"])
    refused(lambda: alice.register_customer(
        make_profile(seed=12, basic__name=PERSONAL["name"], basic__email=PERSONAL["bad_email"])))
    refused(lambda: alice.register_customer(
        make_profile(seed=13, basic__legal_representative=PERSONAL["legal_representative"],
                     basic__phone=PERSONAL["bad_phone"])))
    refused(lambda: alice.register_customer({"basic": {"name": PERSONAL["name"]}}))
    refused(lambda: alice.propose_change(customer_id, {"basic.phone": PERSONAL["bad_phone"]},
                                         "2026-11-20"))
    # Someone's name typed into the username field: no account has it, and no log line.
    refused(lambda: ledger.access.identity.login(PERSONAL["contact"], "x",
                                                 client_address="127.0.0.1"))
    ledger.runner.rebuild()
    alice.find_customers(PERSONAL["name"][:7])
    refused(lambda: alice.find_customers(PERSONAL["name"] * 20))

    lines = log_lines(capsys)

    assert leaks(lines) == {}
    assert any("register-customer" in line and "command_accepted" in line for line in lines)
    assert any("register-customer" in line and "command_refused" in line for line in lines)
    assert any("verify-change" in line and "workflow_violation" in line for line in lines)
    # The caller's command id only as its digest: the first 16 hex digits of its SHA-256.
    ref = hashlib.sha256(f"import-row-{PERSONAL['phone']}".encode()).hexdigest()[:16]
    assert any("command_accepted" in line and ref in line for line in lines)


# Which personal value each route parameter or body field is sent, by name; any other
# string parameter gets the street. Times and numbers get a phone number, which they refuse.
VALUE_FOR = {
    "phone": PERSONAL["phone"], "email": PERSONAL["email"],
    "person": PERSONAL["legal_representative"], "name_prefix": PERSONAL["name"],
    "customer": PERSONAL["name"], "actor": PERSONAL["contact"], "username": PERSONAL["contact"],
    "reason": PERSONAL["reject_reason"], "details": PERSONAL["reject_reason"],
    "since": PERSONAL["phone"], "until": PERSONAL["phone"], "at": PERSONAL["phone"],
    # A position as large as a phone number would wait for the read models to reach it.
    "limit": PERSONAL["phone"], "min_position": PERSONAL["street"],
    "changes": {"basic.name": PERSONAL["new_name"], "basic.phone": PERSONAL["bad_phone"]},
    # Valid where a rule would refuse anything else, so the call reaches the handlers.
    "happened_on": "2026-11-20", "reviewed_on": "2026-11-20", "expected_version": 1,
    "totp": None,
}


def value_for(name: str, customer_id: str) -> Any:
    if name.endswith("_id"):
        return customer_id
    if name == "profile":
        return profile()
    return VALUE_FOR.get(name, PERSONAL["street"])


def requests_to_every_route(schema: dict[str, Any], customer_id: str
                            ) -> list[tuple[str, str, dict[str, Any], Any]]:
    """One request per operation with every parameter and body field given a personal
    value, plus one search per criterion (the accepted path)."""
    sent = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            params = {p["name"]: value_for(p["name"], customer_id)
                      for p in operation.get("parameters", []) if p["in"] == "query"}
            url = path
            for p in operation.get("parameters", []):
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(value_for(p["name"],
                                                                           customer_id)))
            body = None
            if "requestBody" in operation:
                body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
                # An optional body is documented as "anyOf: [the model, null]".
                ref = next(option["$ref"] for option in body_schema.get("anyOf", [body_schema])
                           if "$ref" in option)
                fields = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
                body = {name: value_for(name, customer_id) for name in fields}
            sent.append((method.upper(), url, params, body))
            if "min_position" in params:  # refused as a position; without it, the bus sees it
                sent.append((method.upper(), url,
                             {k: v for k, v in params.items() if k != "min_position"}, body))
    sent += [("GET", "/search/customers", {criterion: VALUE_FOR[criterion]}, None)
             for criterion in ("phone", "email", "person")]
    # Logging out ends the session the other requests use: it goes last.
    return sorted(sent, key=lambda request: request[1] == "/auth/logout")


def test_every_route_sent_the_customers_values_logs_none_of_them(
        ledger: Ledger, clock: FixedClock, log_format: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(ledger)

    def failing_with_the_phone_in_its_message() -> None:
        # What pydantic did in a 500: the exception text quotes the input.
        raise ValueError(f"input_value={PERSONAL['phone']!r}")

    app.add_api_route("/failing", failing_with_the_phone_in_its_message)
    customer_id = LedgerClient.in_process(ledger, "alice", roles=["info_specialist"]
                                          ).register_customer(profile())["aggregate_id"]
    with TestClient(app, client=("127.0.0.1", 50000)) as http:
        token = log_in_with_every_role(http, ledger, clock)
        configure_logging(Settings(log_format=log_format, log_level="debug"))
        capsys.readouterr()
        statuses = {}
        for method, url, params, body in requests_to_every_route(app.openapi(), customer_id):
            answer = http.request(method, url, params=params, json=body,
                                  headers={"Authorization": f"Bearer {token}"})
            statuses[(method, url.split("/")[1])] = answer.status_code
        failed = http.get("/failing", headers={"Authorization": f"Bearer {token}"})

    lines = log_lines(capsys)
    assert leaks(lines) == {}
    assert failed.status_code == 500
    assert any("request_failed" in line and "ValueError" in line for line in lines)
    assert any("command_refused" in line for line in lines)  # commands reached the bus
    assert any("query_refused" in line for line in lines)
    assert statuses[("GET", "search")] == 200  # the last search: one criterion is answered
    assert statuses[("POST", "auth")] == 200  # the logout, last of all
    assert len(statuses) > 10


def test_a_logged_exception_keeps_its_type_and_frames_but_never_its_text(
        log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=log_format, log_level="debug"))
    capsys.readouterr()

    def validate_phone() -> None:
        raise ValueError(f"invalid phone, input_value={PERSONAL['phone']!r}")

    try:
        validate_phone()
    except ValueError:
        structlog.get_logger("test").exception("phone_check_failed")

    lines = log_lines(capsys)
    assert leaks(lines) == {}
    assert any("phone_check_failed" in line and "ValueError" in line
               and "validate_phone" in line for line in lines)

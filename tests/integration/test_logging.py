"""No personal data in logs, ever: every log line is searched for the values a user entered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from commands.client import LedgerClient
from commands.errors import LedgerError
from ledger.logging import configure_logging
from ledger.service.bootstrap import Ledger
from ledger.settings import Settings
from tests.factories import make_profile

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
    customer_id = alice.register_customer(profile())["aggregate_id"]
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
    ledger.runner.rebuild()
    alice.find_customers(PERSONAL["name"][:7])
    refused(lambda: alice.find_customers(PERSONAL["name"] * 20))

    lines = log_lines(capsys)

    assert leaks(lines) == {}
    assert any("register-customer" in line and "command_accepted" in line for line in lines)
    assert any("register-customer" in line and "command_refused" in line for line in lines)
    assert any("verify-change" in line and "workflow_violation" in line for line in lines)

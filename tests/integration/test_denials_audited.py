"""Every permission denial is in the audit trail (OP-1, AU-1), whichever check raised it: the
permission table, a workflow rule about who may act, the reader's clearance, the network
rule. Each scenario below is one place in the source that refuses with
``permission_denied``; a guard greps the source, so a new such place needs its scenario.

Given the scenario's setting, when the refusal happens, then exactly one audit record is
appended (never two, though the authoriser and the bus both see the denial) and nothing
else is written."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from commands import bus
from commands.bus import Actor
from commands.deletion import RejectDeletion, RequestDeletion, ReviewDeletion
from commands.models import VerifyChange
from ledger.domain.access import AccessRecord
from ledger.domain.deletion import Ground
from ledger.domain.errors import PermissionDeniedError
from projections.audit import AuditTrailQuery
from projections.privacy import FindCustomersBy
from service.bootstrap import Ledger
from tests.accounts import PASSWORD, open_account
from tests.privacy_support import (
    CLERK,
    FINANCE_HEAD,
    SALES_HEAD,
    distinctive_profile,
    register,
    request_deletion,
)
from tests.store_snapshot import snapshot_store

SOURCE = Path(bus.__file__).parents[1]  # src/
HOME = "127.0.0.1"
OUTSIDE = "203.0.113.5"
SALES = Actor("li.na", frozenset({"sales"}), client_address=HOME, department="sales")
FINANCE = Actor("qian.hui", frozenset({"finance"}), client_address=HOME,
                department="finance")

Refusal = Callable[[], object]


@dataclass(frozen=True)
class Denial:
    """One refusal: where in the source it is raised, how to bring it about (the setting is
    written first; the refusal it returns is the step under test), and what it records."""

    site: str
    arrange: Callable[[Ledger], Refusal]
    operation: str
    record: type[Any] = AccessRecord.PermissionDenied


def a_customer(ledger: Ledger) -> UUID:
    customer_id = UUID(register(ledger, distinctive_profile("zh_CN")))
    ledger.runner.catch_up()
    return customer_id


def a_request(ledger: Ledger) -> UUID:
    return UUID(request_deletion(ledger, str(a_customer(ledger))))


def verify_as_sales(ledger: Ledger) -> Refusal:
    command = VerifyChange(customer_id=a_customer(ledger), proposal_id="p")
    return lambda: ledger.bus.execute(command, SALES)


def audit_trail_as_sales(ledger: Ledger) -> Refusal:
    return lambda: ledger.bus.ask(AuditTrailQuery(), SALES)


def request_for_another_department(ledger: Ledger) -> Refusal:
    command = RequestDeletion(customer_id=a_customer(ledger), ground=Ground.RELATIONSHIP_ENDED,
                              details="contract ended", department="finance")
    return lambda: ledger.bus.execute(command, CLERK)  # a clerk of sales


def review_by_another_department(ledger: Ledger) -> Refusal:
    command = ReviewDeletion(request_id=a_request(ledger))
    return lambda: ledger.bus.execute(command, FINANCE_HEAD)


def reject_at_a_step_of_another_role(ledger: Ledger) -> Refusal:
    # The role table lets every head reject; the approve step belongs to another role.
    command = RejectDeletion(request_id=a_request(ledger), step="approve", reason="no")
    return lambda: ledger.bus.execute(command, SALES_HEAD)


def search_by_phone_as_finance(ledger: Ledger) -> Refusal:
    a_customer(ledger)
    return lambda: ledger.bus.ask(FindCustomersBy(phone="+86 138-0013-8000"), FINANCE)


def session_used_from_outside(ledger: Ledger) -> Refusal:
    open_account(ledger, "zhou.min", "sales")
    token = ledger.access.identity.login("zhou.min", PASSWORD, client_address=HOME)["token"]
    return lambda: ledger.access.identity.authenticate(token, OUTSIDE)


def login_from_outside(ledger: Ledger) -> Refusal:
    open_account(ledger, "zhou.min", "sales")
    return lambda: ledger.access.identity.login("zhou.min", PASSWORD, client_address=OUTSIDE)


DENIALS = {
    "permission table, command": Denial(
        "commands/authorisation.py", verify_as_sales, "verify-change"),
    "permission table, query": Denial(
        "commands/authorisation.py", audit_trail_as_sales, "audit-trail"),
    "deletion for another department": Denial(
        "commands/deletion.py", request_for_another_department, "request-deletion"),
    "review by another department's head": Denial(
        "ledger/domain/deletion.py", review_by_another_department, "review-deletion"),
    "a step of another role": Denial(
        "ledger/domain/deletion.py", reject_at_a_step_of_another_role, "reject-deletion"),
    "search without clearance": Denial(
        "projections/queries.py", search_by_phone_as_finance, "find-customers-by"),
    "a session used from outside the networks": Denial(
        "commands/authentication.py", session_used_from_outside, "authenticate"),
    # A login has its own audit record, which names the reason.
    "a login from outside the networks": Denial(
        "commands/authentication.py", login_from_outside, "login", AccessRecord.LoginFailed),
}


@pytest.mark.parametrize("denial", DENIALS.values(), ids=DENIALS.keys())
def test_every_permission_denial_is_recorded_once(ledger: Ledger, denial: Denial) -> None:
    refusal = denial.arrange(ledger)
    before = snapshot_store(ledger.store)

    with pytest.raises(PermissionDeniedError) as refused:
        refusal()

    after = snapshot_store(ledger.store)
    assert after.events[: len(before.events)] == before.events
    assert after.snapshots == before.snapshots
    (added,) = after.added_since(before)
    record = added.decode(ledger.store)
    assert isinstance(record, denial.record)
    assert refused.value.audited
    if isinstance(record, AccessRecord.PermissionDenied):
        assert record.operation == denial.operation
    else:
        assert record.reason == "network"


def permission_denied_sites() -> Counter[str]:
    """Each module's places that make a permission denial: a ``PermissionDeniedError(...)``
    or a refusal helper given ``error=PermissionDeniedError``."""
    sites: Counter[str] = Counter()
    pattern = re.compile(r"(?<!class )PermissionDeniedError\(|error=PermissionDeniedError\b")
    for path in sorted(SOURCE.rglob("*.py")):
        found = len(pattern.findall(path.read_text(encoding="utf-8")))
        if found:
            sites[path.relative_to(SOURCE).as_posix()] += found
    return sites


def test_every_place_that_denies_permission_has_its_scenario() -> None:
    covered = Counter(denial.site for denial in DENIALS.values())
    sites = permission_denied_sites()
    assert sites, "the grep found nothing: is SOURCE the source folder?"
    uncovered = {site: count for site, count in sites.items() if covered[site] < count}
    assert not uncovered, f"permission denials without a scenario here: {uncovered}"

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
from commands.actor import Actor
from commands.customers import VerifyChange
from commands.deletion import RejectDeletion, RequestDeletion, ReviewDeletion
from commands.totp_enrolment import StartTotpEnrolment
from ledger.domain.access import AccessRecord
from ledger.domain.deletion import Ground
from ledger.domain.errors import PermissionDeniedError
from projections.audit import AuditTrailQuery
from projections.privacy import FindCustomersBy
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.accounts import PASSWORD, open_account
from tests.conftest import FAST_HASHING_POLICY
from tests.integration.export_support import APPROVER, register_customers
from tests.integration.export_support import CLERK as EXPORT_CLERK
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
    # Policy lines laid over the tests' policy, for a refusal only such a policy reaches.
    policy: str = ""


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


def enrol_someone_else(ledger: Ledger) -> Refusal:
    open_account(ledger, "zhou.min", "sales")
    helpdesk = Actor("root.wu", frozenset({"bulk_export"}), client_address=HOME)
    return lambda: ledger.bus.execute(StartTotpEnrolment(username="zhou.min"), helpdesk)


def export_a_report_not_readable(ledger: Ledger) -> Refusal:
    finance = LedgerClient.in_process(ledger, FINANCE.id, roles=sorted(FINANCE.roles))
    return lambda: finance.export_report("deletions", purpose="curiosity")


def _filed_export(ledger: Ledger, requester: Actor) -> str:
    register_customers(ledger, 4)
    client = LedgerClient.in_process(ledger, requester.id, roles=sorted(requester.roles))
    filed = client.export_customers(["basic.name"], purpose="annual mailing")
    request_id: str = filed["request_id"]
    return request_id


def approve_ones_own_export(ledger: Ledger) -> Refusal:
    # One person with both roles may file and approve, but never their own request.
    both = Actor("wang.fang", frozenset({"info_specialist", "bulk_export"}))
    request_id = _filed_export(ledger, both)
    client = LedgerClient.in_process(ledger, both.id, roles=sorted(both.roles))
    return lambda: client.approve_export(request_id)


def run_someone_elses_approved_export(ledger: Ledger) -> Refusal:
    request_id = _filed_export(ledger, EXPORT_CLERK)
    LedgerClient.in_process(ledger, APPROVER.id, roles=sorted(APPROVER.roles)).approve_export(
        request_id)
    other = LedgerClient.in_process(ledger, "li.na", roles=sorted(EXPORT_CLERK.roles))
    return lambda: other.export_customers(["basic.name"], purpose="annual mailing",
                                          request_id=request_id)


SMALL_EXPORT_THRESHOLD = "\n[export]\napproval_threshold = 3\n"

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
    # The permission table may let a role start enrolments; never for another's account.
    "a second factor enrolled for another account": Denial(
        "commands/totp_enrolment.py", enrol_someone_else, "start-totp-enrolment",
        policy='[access.permissions]\nbulk_export = ["start-totp-enrolment"]\n'),
    "a report exported by one who may not read it": Denial(
        "commands/exports.py", export_a_report_not_readable, "export-report"),
    "an export request approved by its requester": Denial(
        "ledger/domain/export.py", approve_ones_own_export, "approve-export",
        policy=SMALL_EXPORT_THRESHOLD),
    "an approved export run by another": Denial(
        "ledger/domain/export.py", run_someone_elses_approved_export, "export",
        policy=SMALL_EXPORT_THRESHOLD),
}


@pytest.mark.parametrize("denial", DENIALS.values(), ids=DENIALS.keys())
def test_every_permission_denial_is_recorded_once(
        make_ledger: Callable[..., Ledger], database_url: str, tmp_path: Path,
        denial: Denial) -> None:
    options = {}
    if denial.policy:
        policy = tmp_path / "policy.toml"
        policy.write_text(FAST_HASHING_POLICY.read_text(encoding="utf-8") + denial.policy,
                          encoding="utf-8")
        options["policy_file"] = policy
    ledger = make_ledger(database_url, **options)
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

"""Legal holds as readers see them (DL-5), on SQLite and PostgreSQL: the customer view lists
a customer's holds, the deletion list shows which requests a hold keeps from execution, the
review of holds shows who placed each and why and what it blocks, the audit trail records
an execution refused under a hold, and the erasure certificate states that no hold was in
force. The hold's reason is sealed under the customer's key: once the customer is erased it
is stored nowhere in plaintext and reads as [erased]."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from commands.actor import Actor
from commands.deletion import ApproveDeletion, ExecuteDeletion, ReviewDeletion
from commands.legal_holds import LiftLegalHold, PlaceLegalHold
from ledger.crypto import ERASED
from ledger.domain.errors import WorkflowViolationError
from ledger.domain.messages import localised
from ledger.i18n import CHINESE, translator
from projections.audit import AuditTrailQuery
from projections.privacy import ErasureCertificate, LegalHoldReview, ListDeletions
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from tests.privacy_support import (
    AUDITOR,
    INFO_HEAD,
    SALES_HEAD,
    SYSADMIN,
    ask,
    database_bytes,
    distinctive_profile,
    register,
    request_deletion,
    run,
    where_found,
)

SECOND_INFO_HEAD = Actor("he.ping", frozenset({"info_mgmt_head"}))
REASON = "诉讼保全 欧阳翠花诉翡翠织造合同纠纷一案 证据须保存至判决生效"
REFERENCE = "(2026)沪0115民初4711号"


def held_and_approved(ledger: Ledger, *, until: date | None = None) -> tuple[str, str, str]:
    """Given a customer under a hold, and its deletion request approved: (customer, hold,
    request)."""
    customer_id = register(ledger, distinctive_profile("zh_CN"))
    hold_id = str(run(ledger, PlaceLegalHold(customer_id=UUID(customer_id), reason=REASON,
                                             reference=REFERENCE, until=until),
                      INFO_HEAD)["result"]["hold_id"])
    request_id = request_deletion(ledger, customer_id)
    run(ledger, ReviewDeletion(request_id=UUID(request_id)), SALES_HEAD)
    run(ledger, ApproveDeletion(request_id=UUID(request_id)), INFO_HEAD)
    return customer_id, hold_id, request_id


def lift(ledger: Ledger, customer_id: str, hold_id: str) -> None:
    run(ledger, LiftLegalHold(customer_id=UUID(customer_id), hold_id=UUID(hold_id)),
        SECOND_INFO_HEAD)


def test_the_customer_view_lists_the_holds_not_lifted(ledger: Ledger) -> None:
    customer_id, hold_id, _ = held_and_approved(ledger, until=date(2027, 6, 30))

    holds = ask(ledger, GetCustomer(customer_id=UUID(customer_id)))["customer"]["legal_holds"]

    assert [(h["hold_id"], h["reference"], h["until"], h["placed_by"]) for h in holds] == [
        (hold_id, REFERENCE, "2027-06-30", INFO_HEAD.id)]
    assert REASON not in str(holds)  # the reason is for the review of holds
    lift(ledger, customer_id, hold_id)
    assert ask(ledger, GetCustomer(customer_id=UUID(customer_id)))["customer"][
        "legal_holds"] == []


def test_the_deletion_list_shows_the_requests_a_hold_keeps_from_execution(
        ledger: Ledger) -> None:
    customer_id, hold_id, request_id = held_and_approved(ledger)
    free_request = request_deletion(ledger, register(ledger, distinctive_profile("en_US")))

    listed = {d["request_id"]: d["held_by"]
              for d in ask(ledger, ListDeletions(), INFO_HEAD)["deletions"]}
    held = [d["request_id"] for d in ask(ledger, ListDeletions(stage="held"), INFO_HEAD)[
        "deletions"]]

    assert listed == {request_id: [hold_id], free_request: []}
    assert held == [request_id]
    lift(ledger, customer_id, hold_id)
    assert ask(ledger, ListDeletions(stage="held"), INFO_HEAD)["deletions"] == []


def test_the_review_of_holds_shows_who_why_until_when_and_what_each_blocks(
        ledger: Ledger) -> None:
    customer_id, hold_id, request_id = held_and_approved(ledger)

    [hold] = ask(ledger, LegalHoldReview(), AUDITOR)["holds"]
    assert (hold["hold_id"], hold["customer_id"], hold["reference"], hold["reason"]) == (
        hold_id, customer_id, REFERENCE, REASON)
    assert (hold["placed"]["by"], hold["lifted"], hold["in_force"], hold["blocks"]) == (
        INFO_HEAD.id, None, True, [request_id])

    lift(ledger, customer_id, hold_id)
    assert ask(ledger, LegalHoldReview(), AUDITOR)["holds"] == []
    [lifted] = ask(ledger, LegalHoldReview(status="all"), AUDITOR)["holds"]
    assert (lifted["lifted"]["by"], lifted["in_force"], lifted["blocks"]) == (
        SECOND_INFO_HEAD.id, False, [])


def test_an_execution_refused_under_a_hold_is_in_the_audit_trail_by_the_holds_id(
        ledger: Ledger) -> None:
    customer_id, hold_id, request_id = held_and_approved(ledger)
    with pytest.raises(WorkflowViolationError):
        run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    entries = ask(ledger, AuditTrailQuery(customer=customer_id), AUDITOR)["entries"]
    [refusal] = [e for e in entries if e["kind"] == "refusal"]

    assert (refusal["actor"], refusal["operation"], refusal["outcome"], refusal["facts"]) == (
        SYSADMIN.id, "execute-deletion", "workflow_violation", {"hold_id": hold_id})
    assert set(refusal["targets"]) == {request_id, customer_id}


def test_the_certificate_states_no_hold_was_in_force_and_names_the_lifted_one(
        ledger: Ledger) -> None:
    customer_id, hold_id, request_id = held_and_approved(ledger)
    lift(ledger, customer_id, hold_id)
    run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    statement = ask(ledger, ErasureCertificate(request_id=UUID(request_id)), AUDITOR)[
        "legal_hold"]

    assert statement["in_force_at_execution"] is False
    assert statement["statement"] == ("no legal hold was in force on the customer when the "
                                      "deletion was executed")
    assert [h["hold_id"] for h in statement["earlier_holds"]] == [hold_id]
    # The certificate's words are read in the reader's language (HTTP and CLI render them).
    assert localised(statement, translator(CHINESE))["statement"] == (
        "执行删除时该客户没有处于有效期内的法律保全")


def test_after_erasure_the_holds_reason_is_unreadable_and_stored_nowhere_in_plaintext(
        ledger: Ledger, database_url: str) -> None:
    customer_id, hold_id, request_id = held_and_approved(ledger)
    ledger.runner.catch_up()
    assert where_found(REASON, database_bytes(database_url)) == []  # sealed from the start
    lift(ledger, customer_id, hold_id)
    run(ledger, ExecuteDeletion(request_id=UUID(request_id)), SYSADMIN)

    [hold] = ask(ledger, LegalHoldReview(status="all"), AUDITOR)["holds"]

    assert hold["reason"] == ERASED
    assert where_found(REASON, database_bytes(database_url)) == []
    assert where_found(REFERENCE, database_bytes(database_url))  # the scan reads the rows

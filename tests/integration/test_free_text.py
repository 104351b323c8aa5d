"""Free text is personal data (ST-3, DL-3), on SQLite and PostgreSQL: given a customer whose
commands carried reasons, whose change was rejected with a reason, and whose deletion
request gave details, the history and the audit trail show that text to their readers
while the customer exists; no byte of the database holds it in plaintext, before the
erasure or after it, when it reads [erased]. Text stored in plaintext by an earlier release
still reads as it was."""

from __future__ import annotations

from uuid import UUID

from commands.customers import ProposeChange, RegisterCustomer, RejectChange
from commands.deletion import RejectDeletion
from ledger.crypto import ERASED
from ledger.domain.customer import Customer
from ledger.domain.metadata import EventMetadata, recording_as
from projections.audit import AuditTrailQuery
from projections.history import CustomerHistory
from projections.privacy import ListDeletions
from service.bootstrap import Ledger
from tests.conftest import FixedClock
from tests.privacy_support import (
    AUDITOR,
    CHECKER,
    CLERK,
    DELETION_DETAILS,
    HAPPENED_ON,
    INFO_HEAD,
    SALES_HEAD,
    ask,
    database_bytes,
    distinctive_profile,
    erase,
    leaks,
    request_deletion,
    run,
    where_found,
)

REGISTERED_BECAUSE = "欧阳翠花 came to the trade show stand, her mobile is 138 0013 8000"
PROPOSED_BECAUSE = "Ouyang Cuihua asked by e-mail from cuihua.ouyang@jade-weaving.cn"
REJECTED_BECAUSE = "欧阳翠花 has not confirmed the new address in writing"
REQUEST_REJECTED_BECAUSE = "Ouyang Cuihua still has an open complaint, ticket 7731"
FREE_TEXT = {REGISTERED_BECAUSE, PROPOSED_BECAUSE, REJECTED_BECAUSE, REQUEST_REJECTED_BECAUSE,
             DELETION_DETAILS}


def a_customer_with_free_text(ledger: Ledger) -> str:
    """Given a registration and a proposal with reasons, the proposal rejected with one,
    and a deletion request with details rejected with one: every kind of free text."""
    customer_id = str(run(ledger, RegisterCustomer(profile=distinctive_profile("zh_CN"),
                                                   reason=REGISTERED_BECAUSE),
                          CLERK)["aggregate_id"])
    proposal = run(ledger, ProposeChange(customer_id=UUID(customer_id),
                                         changes={"basic.fax": "+86 10 6552 0000"},
                                         happened_on=HAPPENED_ON, reason=PROPOSED_BECAUSE),
                   CLERK)
    run(ledger, RejectChange(customer_id=UUID(customer_id),
                             proposal_id=proposal["result"]["proposal_id"],
                             reason=REJECTED_BECAUSE), CHECKER)
    request_id = request_deletion(ledger, customer_id)
    run(ledger, RejectDeletion(request_id=UUID(request_id), step="review",
                               reason=REQUEST_REJECTED_BECAUSE), SALES_HEAD)
    ledger.runner.catch_up()
    return customer_id


def shown_texts(ledger: Ledger, customer_id: str) -> set[str]:
    """Every reason the history, the audit trail and the deletion list show."""
    history = ask(ledger, CustomerHistory(customer_id=UUID(customer_id)), INFO_HEAD)["events"]
    trail = ask(ledger, AuditTrailQuery(customer=customer_id), AUDITOR)["entries"]
    deletions = ask(ledger, ListDeletions(stage="all"), INFO_HEAD)["deletions"]
    return ({e["reason"] for e in history} | {e["facts"].get("reason") for e in history}
            | {e["reason"] for e in trail} | {d["rejected_reason"] for d in deletions}) - {None}


def test_readers_see_the_free_text_while_the_customer_exists(ledger: Ledger) -> None:
    customer_id = a_customer_with_free_text(ledger)

    assert {REGISTERED_BECAUSE, PROPOSED_BECAUSE, REJECTED_BECAUSE,
            REQUEST_REJECTED_BECAUSE} <= shown_texts(ledger, customer_id)


def test_no_free_text_about_a_customer_is_stored_in_plaintext(
        ledger: Ledger, database_url: str) -> None:
    a_customer_with_free_text(ledger)

    places = database_bytes(database_url)

    assert leaks(FREE_TEXT, places) == {}
    assert where_found("翡翠织造有限公司", places)  # the scan does read what is not personal


def test_after_erasure_the_free_text_reads_erased_and_is_nowhere_in_the_database(
        ledger: Ledger, database_url: str) -> None:
    customer_id = a_customer_with_free_text(ledger)

    erase(ledger, customer_id)
    ledger.runner.catch_up()

    assert shown_texts(ledger, customer_id) & FREE_TEXT == set()
    assert ERASED in shown_texts(ledger, customer_id)
    assert leaks(FREE_TEXT, database_bytes(database_url)) == {}


def test_reasons_stored_in_plaintext_before_they_were_sealed_still_read(
        ledger: Ledger, clock: FixedClock) -> None:
    customer_id = str(run(ledger, RegisterCustomer(profile=distinctive_profile("en_US")),
                          CLERK)["aggregate_id"])
    proposal = run(ledger, ProposeChange(customer_id=UUID(customer_id),
                                         changes={"basic.fax": "+86 10 6552 0000"},
                                         happened_on=HAPPENED_ON), CLERK)
    customer = ledger.store.repository.get(UUID(customer_id))
    assert isinstance(customer, Customer)
    # As an earlier release stored a rejection: its reason in plaintext, twice.
    with recording_as(EventMetadata(actor=CHECKER.id, reason="old plain reason"), clock):
        customer.reject_change(proposal["result"]["proposal_id"], rejected_by=CHECKER.id,
                               reason="old plain rejection")
    ledger.store.save(customer)
    ledger.runner.catch_up()

    [rejected] = [e for e in ask(ledger, CustomerHistory(customer_id=UUID(customer_id)),
                                 INFO_HEAD)["events"] if e["event"] == "ChangeRejected"]

    assert (rejected["reason"], rejected["facts"]["reason"]) == (
        "old plain reason", "old plain rejection")
    assert "old plain reason" in shown_texts(ledger, customer_id)

"""Every read of customer data is in the audit trail with its outcome (AU-1), on SQLite and
PostgreSQL: refused by the workflow, not found, or broken by something unexpected."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from commands.deletion import ApproveDeletion, ReviewDeletion
from ledger.domain.errors import NotFoundError, WorkflowViolationError
from projections.privacy import ErasureCertificate
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from tests.integration.raw_tables import RawTables
from tests.integration.test_audit_trail import SALES, reads
from tests.privacy_support import (
    AUDITOR,
    INFO_HEAD,
    SALES_HEAD,
    ask,
    distinctive_profile,
    request_deletion,
    run,
)
from tests.privacy_support import register as register_customer


def test_a_certificate_refused_before_the_deletion_ran_is_recorded_against_its_customer(
        ledger: Ledger) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    request_id = request_deletion(ledger, customer_id)
    run(ledger, ReviewDeletion(request_id=UUID(request_id)), SALES_HEAD)
    run(ledger, ApproveDeletion(request_id=UUID(request_id)), INFO_HEAD)
    before = len(reads(ledger))

    with pytest.raises(WorkflowViolationError, match="only for an executed deletion"):
        ask(ledger, ErasureCertificate(request_id=UUID(request_id)), AUDITOR)
    with pytest.raises(NotFoundError):
        ask(ledger, ErasureCertificate(request_id=uuid4()), AUDITOR)

    refused, unknown = reads(ledger)[before:]
    assert (refused.operation, refused.customer_ids, refused.outcome) == (
        "erasure-certificate", [customer_id], "workflow_violation")
    assert refused.revealed_fields == []
    assert refused.meta["actor"] == AUDITOR.id
    assert (unknown.operation, unknown.customer_ids, unknown.outcome) == (
        "erasure-certificate", [], "not_found")


def test_a_read_that_breaks_unexpectedly_is_recorded_as_an_internal_error(
        ledger: Ledger, database_url: str) -> None:
    customer_id = register_customer(ledger, distinctive_profile("zh_CN"))
    ask(ledger, GetCustomer(customer_id=UUID(customer_id)), SALES)
    before = len(reads(ledger))
    with RawTables(database_url) as raw:  # a read model lost under the running service
        raw.sql("ALTER TABLE customer_view RENAME TO customer_view_lost")

    with pytest.raises(Exception) as broken:
        ledger.bus.ask(GetCustomer(customer_id=UUID(customer_id)), SALES)

    assert "customer_view" in str(broken.value)  # the database's own error, not ours
    [record] = reads(ledger)[before:]
    assert (record.operation, record.customer_ids, record.outcome) == (
        "get-customer", [customer_id], "internal_error")
    assert record.meta["client_address"] == SALES.client_address

"""Masking fails closed (ST-4, P5), on SQLite and PostgreSQL: every query the ledger
registers, asked with no reader's clearance (called in process, or through a bus whose
authoriser grants none), answers with every sensitive field of the policy masked; only
code that asks for full clearance, and is recorded in the audit trail for it, sees them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel

from commands.actor import Actor, AllowAll
from commands.bus import MessageBus
from commands.customers import ProposeChange
from commands.registry import ALL_HANDLERS
from ledger.domain.access import AccessRecord
from ledger.domain.errors import LedgerError
from ledger.domain.profile import validate_profile
from projections.account_queries import AccessReview, GetAccount, ListAccounts
from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery, CustomerAsOf
from projections.export_identify import IdentifyExport
from projections.faults import ListFaults, ListIncidents
from projections.history import CustomerHistory
from projections.privacy import (
    ErasureCertificate,
    FindCustomersBy,
    LegalHoldReview,
    ListDeletions,
    ListDuplicates,
)
from projections.queries import (
    FindCustomers,
    GetCustomer,
    ListLateKeyChanges,
    ListPendingProposals,
    ListReviewsDue,
)
from projections.reports import REPORTS
from projections.training_queries import OverdueAssessments, TrainingPassRates
from service.bootstrap import Ledger
from tests.factories import make_profile
from tests.privacy_support import (
    CLERK,
    DEFAULT_POLICY,
    change,
    distinctive_profile,
    erase,
    register,
    strings_in,
    value_at,
)

# A pending change to a sensitive field, recorded late (its deadline passed): it shows in
# the proposals, the late key changes and the history.
PENDING_PHONE = "+86 137 2468 1357"


def sensitive_values(ledger: Ledger, profile: dict[str, Any]) -> set[str]:
    """The values a profile holds at the policy's sensitive paths, as stored (normalised),
    less those too short to tell from other text (country codes, ratings)."""
    stored = validate_profile(profile, DEFAULT_POLICY.mandatory_fields)
    return {value for path in ledger.policy.access.sensitive_paths()
            for value in strings_in(value_at(stored, path)) if len(value.encode()) >= 8}


@pytest.fixture
def scenario(ledger: Ledger) -> tuple[dict[type[BaseModel], BaseModel], set[str]]:
    """Customers with every sensitive field filled, a verified and a pending late change,
    and an executed erasure; one query of every kind the ledger registers about them; and
    the sensitive values none of the answers may show."""
    zh = register(ledger, distinctive_profile("zh_CN"))
    en = register(ledger, distinctive_profile("en_US"))
    gone = register(ledger, make_profile("en_US", seed=99))
    change(ledger, zh, {"basic.fax": "+86 10 8765 4321"})
    ledger.bus.execute(ProposeChange(customer_id=UUID(en), changes={"basic.phone": PENDING_PHONE},
                                     happened_on="2026-10-01"), CLERK)
    request_id = erase(ledger, gone)["result"]["request_id"]
    ledger.runner.catch_up()
    now = ledger.bus.clock()
    queries: list[BaseModel] = [
        GetCustomer(customer_id=UUID(zh)), FindCustomers(name_prefix="翡翠"),
        FindCustomers(name_prefix="Larkspur"), ListPendingProposals(), ListReviewsDue(),
        ListLateKeyChanges(), FindCustomersBy(phone="+8613800138000"), ListDuplicates(),
        ListDeletions(stage="all"), ErasureCertificate(request_id=UUID(request_id)),
        CustomerHistory(customer_id=UUID(zh)), ListAccounts(), GetAccount(username="nobody"),
        AccessReview(), CustomerAsOf(customer_id=UUID(en), at=now), AuditTrailQuery(),
        AuditAnomalies(since=now - timedelta(days=1), until=now + timedelta(days=1)),
        OverdueAssessments(), TrainingPassRates(), ListFaults(status="all"), ListIncidents(),
        LegalHoldReview(status="all"),
        IdentifyExport(content_base64=base64.b64encode(b"basic.name\nAcme\n").decode()),
        *(report() for report in REPORTS.values()),
    ]
    by_kind = {type(query): query for query in queries}
    assert set(by_kind) == set(ledger.bus.query_handlers), "a query kind is not asked here"
    values = (sensitive_values(ledger, distinctive_profile("zh_CN"))
              | sensitive_values(ledger, distinctive_profile("en_US"))
              | {"+8613724681357", "+861087654321"})
    return by_kind, values


def answer_text(ask: Any, query: BaseModel) -> str:
    """The answer as JSON, or the refusal's message and details."""
    try:
        return json.dumps(ask(query), ensure_ascii=False, default=str)
    except LedgerError as error:
        return json.dumps([str(error), error.details], ensure_ascii=False, default=str)


def shown(values: set[str], text: str) -> list[str]:
    return sorted(value for value in values
                  if value in text or json.dumps(value)[1:-1] in text)


def test_every_query_asked_in_process_without_a_clearance_masks_every_sensitive_value(
        ledger: Ledger, scenario: tuple[dict[type[BaseModel], BaseModel], set[str]]) -> None:
    queries, values = scenario
    for kind, query in queries.items():
        assert shown(values, answer_text(ledger.answer, query)) == [], kind.__name__


def test_every_query_through_a_bus_that_grants_no_clearance_masks_every_sensitive_value(
        ledger: Ledger, scenario: tuple[dict[type[BaseModel], BaseModel], set[str]]) -> None:
    queries, values = scenario
    bus = MessageBus(ledger.store, ledger.policy, ALL_HANDLERS, ledger.bus.query_handlers,
                     authoriser=AllowAll(), clock=ledger.bus.clock,
                     personal_data=ledger.protector)
    anyone = Actor("tool", frozenset({"sysadmin", "auditor", "info_mgmt_head"}))
    for kind, query in queries.items():
        assert shown(values, answer_text(lambda q: bus.ask(q, anyone), query)) == [], (
            kind.__name__)


def test_full_clearance_is_asked_for_by_name_shows_every_field_and_is_audited(
        ledger: Ledger, scenario: tuple[dict[type[BaseModel], BaseModel], set[str]]) -> None:
    queries, values = scenario
    customer = queries[GetCustomer]
    with ledger.reading_in_full("export for the annual data-protection review", by="exporter"):
        text = answer_text(ledger.answer, customer)
    assert "Cuihua.Ouyang@jade-weaving.cn".casefold() in text.casefold()
    assert "欧阳翠花" in text
    records = [event for notification in ledger.store.read_log(0, 10_000)
               if notification.topic.endswith("AccessRecord.FullClearanceUsed")
               for event in [ledger.store.mapper.to_domain_event(notification)]]
    assert [(event.meta["actor"], event.purpose) for event in records] == [
        ("exporter", "export for the annual data-protection review")]
    assert isinstance(records[0], AccessRecord.FullClearanceUsed)
    # Outside the block the same query is masked again.
    assert shown(values, answer_text(ledger.answer, customer)) == []
    ledger.runner.catch_up()
    trail = answer_text(ledger.answer, AuditTrailQuery(
        since=datetime(2000, 1, 1, tzinfo=UTC)))
    assert "full-clearance" in trail and "annual data-protection review" in trail

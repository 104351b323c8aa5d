"""Where each query is asked: the one table the HTTP routes and the client both read.

A query is defined once, as its pydantic model in ``projections``; this table adds only what
an adapter needs to reach it: its HTTP path (``{name}`` parts are the model's fields), the
section of the API it is listed under, and the ``LedgerClient`` method that sends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from commands.bus import problems_of
from ledger.domain.errors import Problem, ValidationFailedError
from projections.account_queries import AccessReview, GetAccount, ListAccounts
from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery, CustomerAsOf
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
    Query,
)
from projections.reports import (
    CustomersReport,
    DeletionsReport,
    KeyChangeLatenessReport,
    PendingProposalsReport,
    ReviewCoverageReport,
)
from projections.training_queries import OverdueAssessments, TrainingPassRates

_PATH_PARAMETER = re.compile(r"{(\w+)}")
Q = TypeVar("Q", bound=Query)


@dataclass(frozen=True)
class QueryRoute:
    """One query as the adapters offer it: ``GET path``, listed under ``tag``."""

    query: type[Query]
    path: str
    tag: str
    client_method: str

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAMETER.findall(self.path))

    def url(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The path with its ``{name}`` parts filled in, and the parameters left for the
        query string (those given, that is not None)."""
        left = {key: value for key, value in params.items() if value is not None}
        path = _PATH_PARAMETER.sub(lambda found: quote(str(left.pop(found.group(1)))), self.path)
        return path, left


QUERY_ROUTES: tuple[QueryRoute, ...] = (
    QueryRoute(GetCustomer, "/customers/{customer_id}", "queries", "get_customer"),
    QueryRoute(FindCustomers, "/customers", "queries", "find_customers"),
    QueryRoute(ListPendingProposals, "/proposals", "queries", "pending_proposals"),
    QueryRoute(ListReviewsDue, "/reviews/due", "queries", "reviews_due"),
    QueryRoute(ListLateKeyChanges, "/key-changes/late", "queries", "late_key_changes"),
    QueryRoute(CustomerHistory, "/customers/{customer_id}/history", "queries",
               "customer_history"),
    QueryRoute(ListAccounts, "/accounts", "accounts", "list_accounts"),
    QueryRoute(GetAccount, "/accounts/{username}", "accounts", "get_account"),
    QueryRoute(AccessReview, "/access-review", "accounts", "access_review"),
    QueryRoute(FindCustomersBy, "/search/customers", "personal data", "find_customers_by"),
    QueryRoute(ListDuplicates, "/duplicates", "personal data", "duplicates"),
    QueryRoute(ListDeletions, "/deletions", "personal data", "deletions"),
    QueryRoute(ErasureCertificate, "/deletions/{request_id}/certificate", "personal data",
               "erasure_certificate"),
    QueryRoute(CustomerAsOf, "/customers/{customer_id}/as-of", "audit", "customer_as_of"),
    QueryRoute(AuditTrailQuery, "/audit/trail", "audit", "audit_trail"),
    QueryRoute(AuditAnomalies, "/audit/anomalies", "audit", "audit_anomalies"),
    QueryRoute(ListFaults, "/faults", "operations", "list_faults"),
    QueryRoute(ListIncidents, "/incidents", "operations", "list_incidents"),
    QueryRoute(LegalHoldReview, "/legal-holds", "personal data", "legal_hold_review"),
    QueryRoute(OverdueAssessments, "/training/overdue", "training", "overdue_assessments"),
    QueryRoute(TrainingPassRates, "/training/pass-rates", "training", "training_pass_rates"),
    QueryRoute(CustomersReport, "/reports/customers", "reports", "report_customers"),
    QueryRoute(ReviewCoverageReport, "/reports/review-coverage", "reports",
               "report_review_coverage"),
    QueryRoute(KeyChangeLatenessReport, "/reports/key-change-lateness", "reports",
               "report_key_change_lateness"),
    QueryRoute(DeletionsReport, "/reports/deletions", "reports", "report_deletions"),
    QueryRoute(PendingProposalsReport, "/reports/pending-proposals", "reports",
               "report_pending_proposals"),
)

ROUTE_OF: dict[type[Query], QueryRoute] = {route.query: route for route in QUERY_ROUTES}
QUERY_CLASSES: dict[str, type[Query]] = {route.query.name: route.query for route in QUERY_ROUTES}


def build_query(query_class: type[Q], params: dict[str, Any]) -> Q:
    """The query ``params`` ask; a rule across parameters (one search criterion only,
    ``since`` before ``until``) has no one location, so its problem is the query's."""
    try:
        return query_class.model_validate(params)
    except ValidationError as error:
        raise ValidationFailedError([
            Problem("query", p.message) if p.field == "command" else p
            for p in problems_of(error)]) from None

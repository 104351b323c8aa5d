"""The query methods of ``LedgerClient``: one per entry of ``QUERY_ROUTES``, each sending its
query's fields (plain types in, the answer's JSON-ready data out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery, CustomerAsOf
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


class QueryMethods:
    """The customer, personal-data and audit queries."""

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        raise NotImplementedError

    # Queries -----------------------------------------------------------------

    def get_customer(self, customer_id: str, *, min_position: int | None = None
                     ) -> dict[str, Any]:
        """The current view of a customer, waiting until ``min_position`` is reflected."""
        return self._query(GetCustomer, customer_id=customer_id, min_position=min_position)

    def find_customers(self, name_prefix: str, *, limit: int = 50,
                       min_position: int | None = None) -> dict[str, Any]:
        """Customers whose name starts with ``name_prefix`` (case-insensitive)."""
        return self._query(FindCustomers, name_prefix=name_prefix, limit=limit,
                           min_position=min_position)

    def pending_proposals(self, customer_id: str | None = None, *, limit: int = 100,
                          min_position: int | None = None) -> dict[str, Any]:
        """Change proposals waiting for verification."""
        return self._query(ListPendingProposals, customer_id=customer_id, limit=limit,
                           min_position=min_position)

    def reviews_due(self, quarter: str | None = None, *, limit: int = 100,
                    min_position: int | None = None) -> dict[str, Any]:
        """Customers not yet reviewed in ``quarter`` (``2026-Q4``; default the current one)."""
        return self._query(ListReviewsDue, quarter=quarter, limit=limit,
                           min_position=min_position)

    def late_key_changes(self, *, limit: int = 100, min_position: int | None = None
                         ) -> dict[str, Any]:
        """Key-field changes recorded after their working-day deadline (UP-2)."""
        return self._query(ListLateKeyChanges, limit=limit, min_position=min_position)

    # Personal data and deletion -------------------------------------------------

    def find_customers_by(self, *, phone: str | None = None, email: str | None = None,
                          person: str | None = None, limit: int = 50) -> dict[str, Any]:
        """Customers with exactly this phone, email or person's name (blind-index match)."""
        return self._query(FindCustomersBy, phone=phone, email=email, person=person,
                           limit=limit)

    def duplicates(self, *, limit: int = 100) -> dict[str, Any]:
        """Groups of likely duplicates: same phone, email, or name and address (DL-4)."""
        return self._query(ListDuplicates, limit=limit)

    def deletions(self, *, stage: str = "open", limit: int = 100) -> dict[str, Any]:
        """Deletion requests (open ones by default; ``held``: those under a legal hold)."""
        return self._query(ListDeletions, stage=stage, limit=limit)

    def erasure_certificate(self, request_id: str) -> dict[str, Any]:
        """The certificate of an executed deletion, as JSON-ready data."""
        return self._query(ErasureCertificate, request_id=request_id)

    def customer_history(self, customer_id: str) -> dict[str, Any]:
        """Every event of a customer, in order, with actor, time, command and reason."""
        return self._query(CustomerHistory, customer_id=customer_id)

    # The auditor's replay tool (AU-5) ------------------------------------------

    def customer_as_of(self, customer_id: str, at: datetime | str) -> dict[str, Any]:
        """A customer's state as it was at ``at`` (ISO 8601 with offset), from its events."""
        return self._query(CustomerAsOf, customer_id=customer_id, at=at)

    def audit_trail(self, *, actor: str | None = None, operation: str | None = None,
                    customer: str | None = None, since: datetime | str | None = None,
                    until: datetime | str | None = None, limit: int = 1000
                    ) -> dict[str, Any]:
        """Commands, events and access records, filtered; ``entries`` in log order."""
        return self._query(AuditTrailQuery, actor=actor, operation=operation, customer=customer,
                           since=since, until=until, limit=limit)

    def audit_anomalies(self, since: datetime | str, until: datetime | str) -> dict[str, Any]:
        """Failed-login bursts, heavy readers, off-hours access, grants and incident locks."""
        return self._query(AuditAnomalies, since=since, until=until)

    def legal_hold_review(self, *, status: str = "in_force", customer_id: str | None = None,
                          limit: int = 100) -> dict[str, Any]:
        """Legal holds (in force by default, or ``all``), with what each blocks (DL-5)."""
        return self._query(LegalHoldReview, status=status, customer_id=customer_id,
                           limit=limit)

"""The report methods of ``LedgerClient`` (OP-3): one per report, and ``report(name)``."""

from __future__ import annotations

from typing import Any

from projections.queries import Query
from projections.reports import (
    REPORTS,
    CustomersReport,
    DeletionsReport,
    KeyChangeLatenessReport,
    PendingProposalsReport,
    ReviewCoverageReport,
)
from service.client_transport import Transport


class ReportMethods:
    """Statistics from the read models, each stating the event position it reflects."""

    transport: Transport

    def _query(self, query: type[Query], **params: Any) -> dict[str, Any]:
        raise NotImplementedError

    def report(self, name: str, **params: Any) -> dict[str, Any]:
        """The report ``name`` (customers, review-coverage, key-change-lateness, deletions,
        pending-proposals) with its parameters."""
        return self._query(REPORTS[name], **params)

    def report_customers(self) -> dict[str, Any]:
        """Customers by source channel, region and business type."""
        return self._query(CustomersReport)

    def report_review_coverage(self, quarter: str | None = None) -> dict[str, Any]:
        """Reviewed and due customers of ``quarter`` (default this one), per source channel."""
        return self._query(ReviewCoverageReport, quarter=quarter)

    def report_key_change_lateness(self) -> dict[str, Any]:
        """Key-field changes: the share recorded late, the median working days to record."""
        return self._query(KeyChangeLatenessReport)

    def report_deletions(self) -> dict[str, Any]:
        """Deletion requests by stage and age."""
        return self._query(DeletionsReport)

    def report_pending_proposals(self) -> dict[str, Any]:
        """Pending change proposals by age."""
        return self._query(PendingProposalsReport)

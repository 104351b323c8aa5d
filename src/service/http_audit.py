"""HTTP routes of the auditor's replay tool (AU-5): a customer as of a moment, the trail,
and anomalies. Each is a query through the bus, so it is authorised and, where it shows
customer data, recorded like every read."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery, CustomerAsOf
from projections.queries import Moment
from service.http_auth import ActorDep, LedgerDep, build_query


def audit_router() -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/customers/{customer_id}/as-of")
    def customer_as_of(customer_id: UUID, at: Moment, ledger: LedgerDep,
                       actor: ActorDep) -> dict[str, Any]:
        """A customer's state as it was at a moment, folded from its events up to then."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(CustomerAsOf, customer_id=customer_id, at=at), actor)
        return result

    @router.get("/audit/trail")
    def audit_trail(ledger: LedgerDep, actor: ActorDep,
                    by: Annotated[str | None, Query(alias="actor", max_length=100)] = None,
                    operation: Annotated[str | None, Query(max_length=100)] = None,
                    customer: Annotated[str | None, Query(max_length=100)] = None,
                    since: Moment | None = None, until: Moment | None = None,
                    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> dict[str, Any]:
        """Commands, events and access records, filtered by actor, operation, customer and
        time range, in log order."""
        result: dict[str, Any] = ledger.bus.ask(build_query(
            AuditTrailQuery, actor=by, operation=operation, customer=customer, since=since,
            until=until, limit=limit), actor)
        return result

    @router.get("/audit/anomalies")
    def audit_anomalies(since: Moment, until: Moment, ledger: LedgerDep,
                        actor: ActorDep) -> dict[str, Any]:
        """Failed-login bursts, heavy readers, access outside working hours, privilege grants
        and incident locks between two moments (AU-4)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(AuditAnomalies, since=since, until=until), actor)
        return result

    return router

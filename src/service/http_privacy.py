"""HTTP routes for personal-data work: search on ciphertext, duplicates, deletion requests
and erasure certificates. Deletion steps are commands under /commands like every other."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from projections.privacy import ErasureCertificate, FindCustomersBy, ListDeletions, ListDuplicates
from service.http_auth import ActorDep, LedgerDep, build_query


def privacy_router() -> APIRouter:
    router = APIRouter(tags=["personal data"])

    @router.get("/search/customers")
    def find_customers_by(ledger: LedgerDep, actor: ActorDep,
                          phone: Annotated[str | None, Query(max_length=50)] = None,
                          email: Annotated[str | None, Query(max_length=320)] = None,
                          person: Annotated[str | None, Query(max_length=200)] = None,
                          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
        """Customers with exactly this phone, email or person's name, matched on blind
        indexes (the values are never stored in plaintext)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(FindCustomersBy, phone=phone, email=email, person=person, limit=limit),
            actor)
        return result

    @router.get("/duplicates")
    def list_duplicates(ledger: LedgerDep, actor: ActorDep,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """Groups of likely duplicate customers: same phone, same email, or same name and
        address (DL-4)."""
        result: dict[str, Any] = ledger.bus.ask(build_query(ListDuplicates, limit=limit),
                                                actor)
        return result

    @router.get("/deletions")
    def list_deletions(ledger: LedgerDep, actor: ActorDep,
                       stage: Literal["open", "requested", "reviewed", "approved", "executed",
                                      "rejected", "all"] = "open",
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """Deletion requests, open ones by default, oldest first (DL-2)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(ListDeletions, stage=stage, limit=limit), actor)
        return result

    @router.get("/deletions/{request_id}/certificate")
    def erasure_certificate(request_id: UUID, ledger: LedgerDep, actor: ActorDep
                            ) -> dict[str, Any]:
        """The erasure certificate of an executed deletion (DL-3)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(ErasureCertificate, request_id=request_id), actor)
        return result

    return router

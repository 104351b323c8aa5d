"""The HTTP API: a thin adapter from routes to the bus, which owns validation and authorisation."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import ledger
from commands.command import Command
from commands.registry import ALL_COMMANDS
from ledger.domain.errors import LedgerError, NotFoundError, Problem, ValidationFailedError
from ledger.domain.problems import problem_location, problem_message
from ledger.settings import Settings
from projections.history import CustomerHistory
from projections.queries import (
    FindCustomers,
    GetCustomer,
    ListLateKeyChanges,
    ListPendingProposals,
    ListReviewsDue,
)
from service.bootstrap import Ledger, bootstrap
from service.http_audit import audit_router
from service.http_auth import (
    ActorDep,
    LedgerDep,
    accounts_router,
    auth_router,
    build_query,
)
from service.http_docs import mount_docs
from service.http_guard import ResponseGuard
from service.http_privacy import privacy_router

MinPosition = Annotated[int | None, Query(ge=0, description="Wait until this event position "
                                                             "is reflected (read-your-writes).")]


def _error_response(error: LedgerError) -> JSONResponse:
    # A 401 names the scheme to use (RFC 9110): a bearer token from POST /auth/login.
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return JSONResponse(status_code=error.http_status,
                        content={"error": error.as_dict()}, headers=headers)


def _problem_of(detail: dict[str, Any]) -> Problem:
    # Where and which rule only: echoing the input could leak personal data.
    if detail.get("type") == "json_invalid":  # its location is a character offset
        return Problem("body", "not valid JSON")
    return Problem(problem_location(detail, skip=("body",)) or "request",
                   problem_message(detail))


def _answer_errors_in_one_shape(app: FastAPI) -> None:
    """Every error FastAPI or Starlette answer themselves (an unknown route, a wrong method,
    a body they cannot parse) in the shape of the ledger's own errors."""

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, error: LedgerError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return _error_response(ValidationFailedError([_problem_of(d) for d in error.errors()]))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # FastAPI could not parse the body
            return _error_response(ValidationFailedError([Problem("body", "not valid JSON")]))
        if error.status_code == 404:
            return _error_response(NotFoundError("no such route"))
        code, message = _HTTP_ERRORS.get(error.status_code, ("http_error", str(error.detail)))
        return JSONResponse(status_code=error.status_code, headers=error.headers,
                            content={"error": {"code": code, "message": message,
                                               "details": {}}})


_HTTP_ERRORS = {405: ("method_not_allowed", "this route does not answer this method "
                                            "(the Allow header lists those it does)")}


def _command_route(command_class: type[Command]) -> Callable[..., dict[str, Any]]:
    def execute(command: Any, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
        return ledger.bus.execute(command, actor)

    execute.__annotations__["command"] = command_class
    execute.__doc__ = command_class.__doc__
    return execute


def _commands_router() -> APIRouter:
    router = APIRouter(prefix="/commands", tags=["commands"])
    for name, command_class in ALL_COMMANDS.items():
        router.add_api_route(f"/{name}", _command_route(command_class), methods=["POST"],
                             name=name, summary=(command_class.__doc__ or name).strip())
    return router


def _queries_router() -> APIRouter:
    router = APIRouter(tags=["queries"])

    @router.get("/customers/{customer_id}")
    def get_customer(customer_id: UUID, ledger: LedgerDep, actor: ActorDep,
                     min_position: MinPosition = None) -> dict[str, Any]:
        """The current view of one customer, with the event position it reflects."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(GetCustomer, customer_id=customer_id, min_position=min_position), actor)
        return result

    @router.get("/customers")
    def find_customers(ledger: LedgerDep, actor: ActorDep,
                       name_prefix: Annotated[str, Query(min_length=1, max_length=200)],
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       min_position: MinPosition = None) -> dict[str, Any]:
        """Customers whose name starts with a prefix, ignoring case."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(FindCustomers, name_prefix=name_prefix, limit=limit,
                        min_position=min_position), actor)
        return result

    @router.get("/proposals")
    def list_pending_proposals(ledger: LedgerDep, actor: ActorDep,
                               customer_id: UUID | None = None,
                               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                               min_position: MinPosition = None) -> dict[str, Any]:
        """Change proposals waiting for verification, oldest first."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(ListPendingProposals, customer_id=customer_id, limit=limit,
                                 min_position=min_position), actor)
        return result

    @router.get("/reviews/due")
    def list_reviews_due(ledger: LedgerDep, actor: ActorDep,
                         quarter: Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$")] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         min_position: MinPosition = None) -> dict[str, Any]:
        """Customers not yet reviewed in a quarter (default: the current one)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(ListReviewsDue, quarter=quarter, limit=limit,
                        min_position=min_position), actor)
        return result

    @router.get("/key-changes/late")
    def list_late_key_changes(ledger: LedgerDep, actor: ActorDep,
                              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                              min_position: MinPosition = None) -> dict[str, Any]:
        """Key-field changes recorded after their working-day deadline, newest first."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(ListLateKeyChanges, limit=limit, min_position=min_position), actor)
        return result

    @router.get("/customers/{customer_id}/history")
    def customer_history(customer_id: UUID, ledger: LedgerDep, actor: ActorDep
                         ) -> dict[str, Any]:
        """Every event of one customer, in order, with actor, time, command and reason."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(CustomerHistory, customer_id=customer_id), actor)
        return result

    return router


def create_app(ledger_instance: Ledger | None = None, settings: Settings | None = None) -> FastAPI:
    """The ASGI app; it bootstraps its own ledger at start-up unless one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ledger_instance is None
        app.state.ledger = ledger_instance or bootstrap(settings)
        try:
            yield
        finally:
            if owned:
                app.state.ledger.close()

    # The docs are served by mount_docs from the package's own assets; ReDoc would need a CDN.
    app = FastAPI(title="Customer ledger", version=ledger.__version__, lifespan=lifespan,
                  description="Event-sourced customer records under a customer-data policy.",
                  docs_url=None, redoc_url=None)
    _answer_errors_in_one_shape(app)
    app.add_middleware(ResponseGuard, headers_for=mount_docs(app))

    @app.get("/healthz", tags=["operations"])
    def healthz(ledger: LedgerDep) -> JSONResponse:
        """Liveness, and how far the read models and the integrity sealer lag behind.

        ``degraded`` (HTTP 503) while the projections or the sealer keep failing: each is
        stuck behind the head until the cause (say, an event that no longer decodes, named
        by its position) is repaired."""
        head = ledger.store.head_position()
        positions = ledger.runner.positions()
        sealing = ledger.sealer.status()
        failing = {name: failure for name, failure in (
            ("projections", ledger.runner.failure), ("sealer", ledger.sealer.failure))
            if failure is not None}
        body = {"status": "degraded" if failing else "ok", "head_position": head,
                "projections": positions,
                "projection_lag": head - min(positions.values(), default=0),
                "projection_errors": ledger.runner.errors,
                "sealed_position": sealing.sealed_position,
                "sealing_lag": sealing.unsealed_records, "sealer_errors": sealing.errors,
                "last_checkpoint_position": sealing.last_checkpoint.position
                if sealing.last_checkpoint else None,
                "failing": failing}
        return JSONResponse(body, status_code=503 if failing else 200)

    app.include_router(auth_router())
    app.include_router(_commands_router())
    app.include_router(accounts_router())
    app.include_router(_queries_router())
    app.include_router(privacy_router())
    app.include_router(audit_router())
    return app

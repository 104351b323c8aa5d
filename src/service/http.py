"""The HTTP API: a thin adapter from routes to the bus, which owns validation and authorisation."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import ledger
from commands.command import Command, Outcome
from commands.registry import ALL_COMMANDS
from ledger.domain.errors import (
    ConflictError,
    LedgerError,
    NotFoundError,
    Problem,
    ValidationFailedError,
    WorkflowViolationError,
)
from ledger.domain.messages import N_
from ledger.domain.problems import problem_location, problem_message
from ledger.i18n import translator
from ledger.settings import Settings
from ledger.transient import is_transient, unavailable
from service.bootstrap import Ledger, bootstrap
from service.health_probe import BoundedProbe
from service.http_auth import (
    AUTHENTICATION_ERRORS,
    BearerDep,
    LedgerDep,
    auth_router,
    authenticated,
    authenticates_before_validation,
    refusal_of_session,
)
from service.http_contract import declare_contract, raises
from service.http_docs import mount_docs
from service.http_exports import exports_router
from service.http_guard import ResponseGuard, error_headers, language_of
from service.http_operations import operations_router
from service.http_queries import queries_router
from service.processes import background_jobs, drivers, this_process


def _error_response(error: LedgerError, request: Request) -> JSONResponse:
    # In the reader's language (ResponseGuard chose it); the code never changes with it.
    translate = translator(language_of(request.scope))
    return JSONResponse(status_code=error.http_status,
                        content={"error": error.as_dict(translate)}, headers=error_headers(error))


def _problem_of(detail: dict[str, Any]) -> Problem:
    # Where and which rule only: echoing the input could leak personal data.
    if detail.get("type") == "json_invalid":  # its location is a character offset
        return Problem("body", N_("not valid JSON"))
    return Problem(problem_location(detail, skip=("body",)) or "request",
                   problem_message(detail))


def _answer_errors_in_one_shape(app: FastAPI) -> None:
    """Every error FastAPI or Starlette answer themselves (an unknown route, a wrong method,
    a body they cannot parse) in the shape of the ledger's own errors."""

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, error: LedgerError) -> JSONResponse:
        return _error_response(error, request)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        refused = await refusal_of_session(request)
        if refused is not None:
            return _error_response(refused, request)
        return _error_response(ValidationFailedError([_problem_of(d) for d in error.errors()]),
                               request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # FastAPI could not parse the body
            return _error_response(ValidationFailedError([Problem("body", N_("not valid JSON"))]),
                                   request)
        if error.status_code == 404:
            return _error_response(NotFoundError("no such route"), request)
        code, message = _HTTP_ERRORS.get(error.status_code,
                                         (_OTHER_HTTP_ERROR, str(error.detail)))
        text = translator(language_of(request.scope))(message)
        return JSONResponse(status_code=error.status_code, headers=error.headers,
                            content={"error": {"code": code, "message": text,
                                               "details": {}}})


_HTTP_ERRORS = {405: ("method_not_allowed", N_("this route does not answer this method "
                                               "(the Allow header lists those it does)"))}
# Any other status Starlette answers itself (none is known to reach the handler).
_OTHER_HTTP_ERROR = "http_error"
# The codes the HTTP layer answers with no error class of their own, for the contract.
HTTP_LAYER_CODES = (*(code for code, _ in _HTTP_ERRORS.values()), _OTHER_HTTP_ERROR)


class Health(BaseModel):
    """Liveness, and how far the followers of the log lag behind its head."""

    status: str
    head_position: int
    projections: dict[str, int] = Field(description="Each read model's position.")
    projection_lag: int
    projection_errors: int
    sealed_position: int
    sealing_lag: int = Field(description="Records not yet sealed into the hash chain.")
    sealer_errors: int
    last_checkpoint_position: int | None
    failing: dict[str, Any] = Field(default_factory=dict, description="Each follower that "
                                    "keeps failing: its error's code, message and details.")
    process: str = Field(default="", description="The server process that answered "
                         "(host:pid); with --workers N, one of N.")
    driven_by: dict[str, str] = Field(
        default_factory=dict, description="Each background job (projection:<name>, "
        "sealer, erasures, training) and the process (host:pid) that drives it: the holder "
        "of its lock, or this process where it runs them itself.")


def _health_of(ledger: Ledger) -> dict[str, Any]:
    head = ledger.store.head_position()
    positions = ledger.runner.positions()
    sealing = ledger.sealer.status()
    failing = {name: failure for name, failure in (
        ("projections", ledger.runner.failure), ("sealer", ledger.sealer.failure))
        if failure is not None}
    return {"status": "degraded" if failing else "ok", "head_position": head,
            "projections": positions,
            "projection_lag": head - min(positions.values(), default=0),
            "projection_errors": ledger.runner.errors,
            "sealed_position": sealing.sealed_position,
            "sealing_lag": sealing.unsealed_records, "sealer_errors": sealing.errors,
            "last_checkpoint_position": sealing.last_checkpoint.position
            if sealing.last_checkpoint else None,
            "failing": failing, "process": this_process(),
            "driven_by": drivers(ledger.views, background_jobs(list(ledger.runner.projections)),
                                 in_process=ledger.runner.running)}


def _health_of_nothing() -> dict[str, Any]:
    # What /healthz shows of positions before it could read any (the database away from
    # the first request on).
    return {"status": "degraded", "head_position": 0, "projections": {}, "projection_lag": 0,
            "projection_errors": 0, "sealed_position": 0, "sealing_lag": 0,
            "sealer_errors": 0, "last_checkpoint_position": None, "failing": {},
            "process": this_process()}


def _command_route(command_class: type[Command]) -> Callable[..., Awaitable[dict[str, Any]]]:
    # What a handler may refuse beyond its input and its actor: a record it names that
    # does not exist, a changed one or a reused command id, a step out of turn.
    @raises(NotFoundError, ConflictError, WorkflowViolationError, *AUTHENTICATION_ERRORS)
    @authenticates_before_validation
    async def execute(command: Any, request: Request, ledger: LedgerDep,
                      credentials: BearerDep) -> dict[str, Any]:
        # The session check and the command run in one worker thread. As a synchronous
        # route with the actor as a dependency, each command crossed to the thread pool
        # three times (the session check, the handler, the answer's validation), each
        # crossing a queue hand-off and two thread switches under the interpreter lock.
        return await run_in_threadpool(
            lambda: ledger.bus.execute(command, authenticated(request, ledger, credentials)))

    execute.__annotations__["command"] = command_class
    execute.__doc__ = command_class.__doc__
    return execute


def _commands_router() -> APIRouter:
    router = APIRouter(prefix="/commands", tags=["commands"])
    for name, command_class in ALL_COMMANDS.items():
        router.add_api_route(f"/{name}", _command_route(command_class), methods=["POST"],
                             name=name, operation_id=name,
                             summary=(command_class.__doc__ or name).strip(),
                             response_model=Outcome, response_model_exclude_unset=True)
    return router


def _operation_id(route: APIRoute) -> str:
    return route.name


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
                  docs_url=None, redoc_url=None,
                  # One schema per model: a generated client has one class per model (split
                  # -Input/-Output schemas share a title, and generators drop the pair).
                  separate_input_output_schemas=False,
                  # An operation is named as its route is (a generated client's function).
                  generate_unique_id_function=_operation_id)
    _answer_errors_in_one_shape(app)
    # Declared first, read when the document is built: the routes added below, and any
    # added later, are all described.
    declare_contract(app, extra_codes=HTTP_LAYER_CODES)
    app.state.health_probe = BoundedProbe(lambda: _health_of(app.state.ledger))
    app.state.last_health = _health_of_nothing()
    app.add_middleware(ResponseGuard, headers_for=mount_docs(app))

    @app.get("/healthz", tags=["operations"], response_model=Health,
             responses={503: {"model": Health, "description": "degraded: a follower fails, "
                                                              "or the database is away"}})
    def healthz(ledger: LedgerDep) -> JSONResponse:
        """Liveness, and how far the read models and the integrity sealer lag behind.

        ``degraded`` (HTTP 503) while the projections or the sealer keep failing: each is
        stuck behind the head until the cause (say, an event that no longer decodes, named
        by its position) is repaired; and, within a second, while the database does not
        answer (the last positions seen are shown)."""
        probe: BoundedProbe[dict[str, Any]] = app.state.health_probe
        try:
            body = probe.result()
        except Exception as error:
            if not isinstance(error, TimeoutError) and not is_transient(error):
                raise
            down = unavailable(error)
            body = app.state.last_health | {"status": "degraded", "failing": {
                "database": {"code": down.code, "message": down.message,
                             "details": down.details}}}
            return JSONResponse(body, status_code=503, headers=error_headers(down))
        app.state.last_health = body
        return JSONResponse(body, status_code=503 if body["failing"] else 200)

    app.include_router(auth_router())
    app.include_router(_commands_router())
    app.include_router(queries_router())
    app.include_router(operations_router())
    app.include_router(exports_router())
    return app

"""HTTP authentication (LG-1..LG-5): the bearer-token dependency every route uses and the
``/auth`` routes. Routes only authenticate; the bus authorises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.concurrency import run_in_threadpool

from commands.actor import Actor
from ledger.credentials import AuthenticationError
from ledger.domain.errors import (
    ConflictError,
    LedgerError,
    PermissionDeniedError,
    WorkflowViolationError,
)
from ledger.domain.messages import rendered
from ledger.i18n import translator
from ledger.transient import retrying
from service.bootstrap import Ledger
from service.http_contract import raises
from service.http_guard import language_of

bearer = HTTPBearer(auto_error=False, description="The token returned by POST /auth/login.")


async def _ledger(request: Request) -> Ledger:
    # async: it does no I/O, so FastAPI calls it on the event loop instead of handing it
    # to the thread pool (a thread hop per request saved).
    built: Ledger = request.app.state.ledger
    return built


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


LedgerDep = Annotated[Ledger, Depends(_ledger)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


# What authenticating may answer: the token missing or ended, the caller's network
# refused. (Every route acting for an actor goes through the bus, which authorises it.)
AUTHENTICATION_ERRORS = (AuthenticationError, PermissionDeniedError)


def authenticated(request: Request, ledger: Ledger,
                  credentials: HTTPAuthorizationCredentials | None) -> Actor:
    """The actor behind the request's bearer token (blocking: it reads the session)."""
    token = credentials.credentials if credentials else None
    # A session check only reads (and touches the session's last use): safe to repeat when
    # the connection it ran on was cut.
    return retrying(lambda: ledger.access.identity.authenticate(token, client_address(request)),
                    seconds=ledger.settings.database_retry_seconds,
                    on_fault=ledger.bus.on_fault)


@raises(*AUTHENTICATION_ERRORS)
def _actor(request: Request, ledger: LedgerDep, credentials: BearerDep) -> Actor:
    return authenticated(request, ledger, credentials)


ActorDep = Annotated[Actor, Depends(_actor)]

# The marker of a route that checks its session itself (``authenticates_before_validation``).
_AUTHENTICATES_ITSELF = "ledger_authenticates_itself"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])


def authenticates_before_validation(endpoint: Endpoint) -> Endpoint:
    """Mark a route that checks its session itself, after FastAPI has validated its body:
    a body it refuses is answered only once the session is known good, so a caller without
    one hears 401, as from a route whose actor is a dependency."""
    setattr(endpoint, _AUTHENTICATES_ITSELF, True)
    return endpoint


async def refusal_of_session(request: Request) -> LedgerError | None:
    """For a route that authenticates itself: why its session is refused, if it is."""
    if not getattr(request.scope.get("endpoint"), _AUTHENTICATES_ITSELF, False):
        return None
    credentials = await bearer(request)
    try:
        await run_in_threadpool(authenticated, request, request.app.state.ledger, credentials)
    except AUTHENTICATION_ERRORS as refused:
        return refused
    return None


class LoginRequest(BaseModel):
    """A username and password, and a TOTP code when the account has a second factor."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: SecretStr = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=10)


class TotpStart(BaseModel):
    """Optionally, the command id that makes a retried start safe."""

    model_config = ConfigDict(extra="forbid")
    command_id: str | None = Field(default=None, min_length=1, max_length=100)


class TotpCode(TotpStart):
    """A current code from the authenticator app."""

    code: str = Field(min_length=6, max_length=10)


def _ids(body: TotpStart | None) -> dict[str, Any]:
    return {"command_id": body.command_id} if body is not None and body.command_id else {}


class Session(BaseModel):
    """A login's answer: the bearer token and what its owner must do first."""

    token: str = Field(description="For the Authorization header: Bearer <token>.")
    token_type: str
    expires_at: str
    idle_timeout_minutes: int
    username: str
    roles: list[str]
    password_change_required: bool
    totp_enrolment_required: bool
    password_rotation_due: bool
    notices: list[str]


class LoggedOut(BaseModel):
    logged_out: bool


class TotpEnrolment(BaseModel):
    secret: str = Field(description="The shared secret, base32, for the authenticator app.")
    otpauth_uri: str


class TotpEnrolled(BaseModel):
    username: str
    totp_enrolled: bool


def auth_router() -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["authentication"])

    @router.post("/login", response_model=Session)
    @raises(AuthenticationError, PermissionDeniedError)  # a failed login; a refused network
    def login(body: LoginRequest, request: Request, ledger: LedgerDep) -> dict[str, Any]:
        """Log in; answers a short-lived bearer token for the Authorization header."""
        # Not retried here (a retry could count one failed attempt twice); a fault is
        # answered ``unavailable``, and the client tries again.
        answer = retrying(lambda: ledger.access.identity.login(
            body.username, body.password.get_secret_value(), body.totp,
            client_address(request)), seconds=0)
        # The notices in the reader's language (ResponseGuard chose it).
        translate = translator(language_of(request.scope))
        return answer | {"notices": [rendered(notice, translate)
                                     for notice in answer["notices"]]}

    @router.post("/logout", response_model=LoggedOut)  # its bearer token: 401 if none
    def logout(request: Request, ledger: LedgerDep, credentials: BearerDep) -> dict[str, Any]:
        """Revoke the bearer token of this request."""
        token = credentials.credentials if credentials else ""
        ledger.access.identity.logout(token, client_address(request))
        return {"logged_out": True}

    # Both are commands: a reused command id, a step out of turn (enrolled already).
    @router.post("/totp/enrol", response_model=TotpEnrolment)
    @raises(ConflictError, WorkflowViolationError)
    def totp_enrol(ledger: LedgerDep, actor: ActorDep,
                   body: TotpStart | None = None) -> dict[str, Any]:
        """Start enrolling a TOTP authenticator for your own account (LG-4)."""
        ledger.bus.execute_named("start-totp-enrolment", _ids(body) | {"username": actor.id},
                                 actor)
        return ledger.access.totp.provisioning(actor.id)

    @router.post("/totp/confirm", response_model=TotpEnrolled)
    @raises(ConflictError, WorkflowViolationError)
    def totp_confirm(body: TotpCode, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
        """Confirm the enrolment with a current code; later logins then need a code."""
        outcome = ledger.bus.execute_named(
            "confirm-totp-enrolment",
            _ids(body) | {"username": actor.id, "code": body.code}, actor)
        result: dict[str, Any] = outcome["result"]
        return result

    return router

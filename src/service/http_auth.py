"""HTTP authentication (LG-1..LG-5): the bearer-token dependency every route uses, the
``/auth`` routes, and the account queries. Routes only authenticate; the bus authorises."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from commands.actor import Actor
from commands.bus import problems_of
from ledger.domain.errors import Problem, ValidationFailedError
from projections.account_queries import AccessReview, GetAccount, ListAccounts
from service.bootstrap import Ledger

Q = TypeVar("Q", bound=BaseModel)

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


def _actor(request: Request, ledger: LedgerDep, credentials: BearerDep) -> Actor:
    token = credentials.credentials if credentials else None
    return ledger.access.identity.authenticate(token, client_address(request))


ActorDep = Annotated[Actor, Depends(_actor)]


def build_query(query_class: type[Q], **parameters: Any) -> Q:
    """The query a route's parameters ask; a rule across parameters (one search criterion
    only, ``since`` before ``until``) is a 422 like any single bad parameter."""
    try:
        return query_class.model_validate(parameters)
    except ValidationError as error:
        # A rule across parameters has no one location: it is the query's.
        raise ValidationFailedError([
            Problem("query", p.message) if p.field == "command" else p
            for p in problems_of(error)]) from None


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


def auth_router() -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["authentication"])

    @router.post("/login")
    def login(body: LoginRequest, request: Request, ledger: LedgerDep) -> dict[str, Any]:
        """Log in; answers a short-lived bearer token for the Authorization header."""
        return ledger.access.identity.login(body.username, body.password.get_secret_value(),
                                            body.totp, client_address(request))

    @router.post("/logout")
    def logout(request: Request, ledger: LedgerDep, credentials: BearerDep) -> dict[str, Any]:
        """Revoke the bearer token of this request."""
        token = credentials.credentials if credentials else ""
        ledger.access.identity.logout(token, client_address(request))
        return {"logged_out": True}

    @router.post("/totp/enrol")
    def totp_enrol(ledger: LedgerDep, actor: ActorDep,
                   body: TotpStart | None = None) -> dict[str, Any]:
        """Start enrolling a TOTP authenticator for your own account (LG-4)."""
        ledger.bus.execute_named("start-totp-enrolment", _ids(body) | {"username": actor.id},
                                 actor)
        return ledger.access.totp.provisioning(actor.id)

    @router.post("/totp/confirm")
    def totp_confirm(body: TotpCode, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
        """Confirm the enrolment with a current code; later logins then need a code."""
        outcome = ledger.bus.execute_named(
            "confirm-totp-enrolment",
            _ids(body) | {"username": actor.id, "code": body.code}, actor)
        result: dict[str, Any] = outcome["result"]
        return result

    return router


def accounts_router() -> APIRouter:
    router = APIRouter(tags=["accounts"])

    @router.get("/accounts")
    def list_accounts(ledger: LedgerDep, actor: ActorDep,
                      role: Annotated[str | None, Query(max_length=50)] = None,
                      min_position: Annotated[int | None, Query(ge=0)] = None
                      ) -> dict[str, Any]:
        """Every account with its state and active roles."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(ListAccounts, role=role, min_position=min_position), actor)
        return result

    @router.get("/accounts/{username}")
    def get_account(username: Annotated[str, Path(min_length=1, max_length=100)],
                    ledger: LedgerDep, actor: ActorDep,
                    min_position: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
        """One account with every grant (your own, or any with the permission)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(GetAccount, username=username, min_position=min_position), actor)
        return result

    @router.get("/access-review")
    def access_review(ledger: LedgerDep, actor: ActorDep,
                      min_position: Annotated[int | None, Query(ge=0)] = None
                      ) -> dict[str, Any]:
        """Every account's roles, grant dates, last use, and grants unused too long (AC-3)."""
        result: dict[str, Any] = ledger.bus.ask(
            build_query(AccessReview, min_position=min_position), actor)
        return result

    return router

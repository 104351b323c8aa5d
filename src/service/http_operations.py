"""The operations routes: ``GET /metrics`` (FT-1; for a session allowed the ``metrics``
operation, or a scraper holding the configured metrics token) and ``GET /readyz``, whether
this process can serve."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from commands.actor import Actor
from ledger.credentials import AuthenticationError
from ledger.domain.errors import PermissionDeniedError, ValidationFailedError
from service.bootstrap import Ledger
from service.http_auth import BearerDep, LedgerDep, client_address
from service.http_contract import raises
from service.metrics import CONTENT_TYPE
from service.policy import METRICS_OPERATION
from service.preflight import read_metrics_token


class Check(BaseModel):
    ok: bool
    detail: str = Field(description="What was found; an error by its code only.")


class Readiness(BaseModel):
    """Whether this process can serve: database, key material, read models within lag."""

    status: str = Field(description="ready, or not_ready (HTTP 503)")
    checks: dict[str, Check]


def _check(probe: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"ok": True, "detail": probe()}
    except Exception as error:  # a probe that fails says only what kind of failure
        return {"ok": False, "detail": type(error).__name__}


def readiness(ledger: Ledger) -> dict[str, Any]:
    def database() -> str:
        return f"head at position {ledger.store.head_position()}"

    def keys() -> str:
        with ledger.keys.db.snapshot() as cursor:
            cursor.one("SELECT COUNT(*) FROM erased_keys")
            stored = cursor.one("SELECT value FROM keystore_meta WHERE name = 'kek_id'")
        if stored is not None and stored[0] != ledger.keys.kek_id:
            # `ledger keys rotate-kek` ran since this process started: every key it reads
            # or writes now is refused until it is restarted with the new KEK.
            raise KekRotatedError
        return f"key-encryption key {ledger.keys.kek_id} loaded"

    def projections() -> str:
        figures = ledger.figures.read()
        worst = max((figures.projection_lag(name) for name in figures.projection_positions),
                    default=0)
        limit = ledger.policy.alerts.projection_lag_events
        if limit and worst > limit:
            raise ProjectionsBehindError
        return f"at most {worst} events behind the head"

    checks = {"database": _check(database), "key_material": _check(keys),
              "projections": _check(projections)}
    ready = all(check["ok"] for check in checks.values())
    return {"status": "ready" if ready else "not_ready", "checks": checks}


class ProjectionsBehindError(Exception):
    """The read models lag the log by more than the policy's projection_lag_events."""


class KekRotatedError(Exception):
    """The key store's data keys are wrapped under another KEK than this process holds."""


def _metrics_token(ledger: Ledger) -> str | None:
    """The token as the file holds it now (it may be replaced while the service runs); a
    file that no longer serves (checked at start) accepts no token, only sessions."""
    path = ledger.settings.metrics_token_file
    if path is None:
        return None
    try:
        return read_metrics_token(path)
    except ValidationFailedError:
        return None


def _allow_metrics(request: Request, ledger: Ledger, token: str | None) -> None:
    expected = _metrics_token(ledger)
    if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    actor: Actor = ledger.access.identity.authenticate(token, client_address(request))
    ledger.bus.authoriser.authorise(actor, METRICS_OPERATION, None)


def operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/readyz", response_model=Readiness,
                responses={503: {"model": Readiness, "description": "not ready"}})
    def readyz(ledger: LedgerDep) -> JSONResponse:
        """Whether this process can serve: the database answers, the key material is
        loaded, and the read models are within the policy's lag."""
        body = readiness(ledger)
        return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)

    @router.get("/metrics", response_class=Response, responses={
        200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}})
    @raises(AuthenticationError, PermissionDeniedError)
    def metrics(request: Request, ledger: LedgerDep, credentials: BearerDep) -> Response:
        """The metrics in the Prometheus text format, for an account allowed ``metrics`` or
        a scraper with the metrics token (README, "Operations")."""
        _allow_metrics(request, ledger, credentials.credentials if credentials else None)
        return Response(ledger.metrics.render(), media_type=CONTENT_TYPE)

    return router

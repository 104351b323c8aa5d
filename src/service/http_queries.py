"""The query routes, one ``GET`` per entry of ``QUERY_ROUTES``, derived from the query's model:
its ``{name}`` fields are path parameters, every other field a query parameter (FastAPI's
query-parameter models), so the model's bounds and its rules across fields are the route's.
Routes only authenticate; the bus authorises, masks and records the read."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi import Query as QueryParameters
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import create_model
from starlette.concurrency import run_in_threadpool

from ledger.domain.errors import NotFoundError
from ledger.domain.messages import localised
from ledger.i18n import translator
from projections.queries import Query
from service.bootstrap import Ledger
from service.http_auth import (
    AUTHENTICATION_ERRORS,
    BearerDep,
    LedgerDep,
    authenticated,
    authenticates_before_validation,
)
from service.http_contract import raises
from service.http_guard import language_of
from service.query_routes import QUERY_ROUTES, QueryRoute, build_query

_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def _query_string_model(route: QueryRoute) -> type[Query]:
    """The query's model without its path fields: what the query string may hold."""
    if not route.path_parameters:
        return route.query
    fields: dict[str, Any] = {
        name: (field.annotation, field) for name, field in route.query.model_fields.items()
        if name not in route.path_parameters and name not in Query.model_fields}
    return create_model(f"{route.query.__name__}Parameters", __base__=Query,
                        __doc__=route.query.__doc__, **fields)


def _endpoint(route: QueryRoute) -> Callable[..., Any]:
    query_string = _query_string_model(route)

    def answer(ledger: Ledger, credentials: HTTPAuthorizationCredentials | None,
               request: Request, parameters: Query, path: dict[str, Any]) -> Any:
        actor = authenticated(request, ledger, credentials)
        query = parameters if not path else build_query(
            route.query, path | parameters.model_dump(exclude_unset=True))
        # The answer's own texts (a certificate's statement) in the reader's language.
        return localised(ledger.bus.ask(query, actor), translator(language_of(request.scope)))

    @authenticates_before_validation
    async def ask(ledger: Ledger, credentials: HTTPAuthorizationCredentials | None,
                  request: Request, parameters: Query, **path: Any) -> Any:
        # One crossing to the thread pool: the session check and the read together (as
        # the command routes do, service.http).
        return await run_in_threadpool(answer, ledger, credentials, request, parameters, path)

    fields = route.query.model_fields
    ask.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("ledger", _KEYWORD, annotation=LedgerDep),
        inspect.Parameter("credentials", _KEYWORD, annotation=BearerDep),
        inspect.Parameter("request", _KEYWORD, annotation=Request),
        *(inspect.Parameter(name, _KEYWORD, annotation=Annotated[
            fields[name].annotation, Path(), *fields[name].metadata])
          for name in route.path_parameters),
        inspect.Parameter("parameters", _KEYWORD,
                          annotation=Annotated[query_string, QueryParameters()]),
    ])
    # A query for one record its path names may find none (a list finds an empty one).
    declared = raises(*AUTHENTICATION_ERRORS)(ask)
    return raises(NotFoundError)(declared) if route.path_parameters else declared


def queries_router() -> APIRouter:
    router = APIRouter()
    for route in QUERY_ROUTES:
        description = (route.query.__doc__ or route.query.name).strip()
        # The answer is checked against its model on the way out, every key it has kept.
        router.add_api_route(route.path, _endpoint(route), methods=["GET"], tags=[route.tag],
                             name=route.query.name, operation_id=route.query.name,
                             summary=description.splitlines()[0], description=description,
                             response_model=route.query.answer,
                             response_model_exclude_unset=True)
    return router

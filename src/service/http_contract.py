"""The API's contract as ``/openapi.json`` states it: every operation declares each error
status it can answer, all with the one error shape ``{"error": {code, message, details}}``,
whose ``code`` is an enum of every code the service sends.

Nothing here is listed per route. Whenever the document is built, each route's errors are
read from the route itself, so a route added anywhere is described the same way:

- every route can meet the server's own failures: each registered error class with a 5xx
  status (the database away, an internal error, key material, integrity, a read not
  reflected in time, and any such class added later);
- a route that takes input (a body, path or query parameters, or any ``POST``, whose body
  the response guard reads) can refuse it: ``validation_failed``;
- a route that reads a credential (a security dependency, the bearer token) may find it is
  no session: ``unauthenticated``;
- the endpoint and each of its dependencies add the classes they declare with ``raises``
  (the authenticated actor: ``unauthenticated``, ``permission_denied``; a command: what its
  handler may refuse);
- a status a route declares itself (``responses={404: {"description": ...}}``) keeps its
  description and gets the error model; one it declares with a model of its own
  (``/healthz`` answers 503 with its Health) is left as it is.

FastAPI's own 422 ``HTTPValidationError`` (``detail[]``) is never declared: the service
answers validation errors in the one error shape (``service.http``). A successful answer
that is not JSON and names no schema (a text, a file) is declared a string."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, ConfigDict, Field

from ledger.credentials import AuthenticationError
from ledger.domain.errors import LedgerError, ValidationFailedError
from service.errors import ERROR_CLASSES

F = TypeVar("F", bound=Callable[..., Any])
_RAISES = "__ledger_raises__"
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_REF = "#/components/schemas/"
# The headers an error status always carries (``service.http``'s error responses).
HEADERS_OF_STATUS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"},
                               "description": "The scheme: a token from POST /auth/login."}},
    503: {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"},
                          "description": "Seconds to wait before trying again."}},
}


def raises(*error_classes: type[LedgerError]) -> Callable[[F], F]:
    """Declare the ledger errors an endpoint or a dependency may answer with; the contract
    adds their statuses to every route that uses it."""
    def declare(function: F) -> F:
        setattr(function, _RAISES, (*getattr(function, _RAISES, ()), *error_classes))
        return function

    return declare


class FieldProblem(BaseModel):
    """One reason an input was refused: where, and which rule (never the value)."""

    field: str
    message: str


class ErrorDetails(BaseModel):
    """What the error adds, by code: ``validation_failed`` lists its ``problems``; other
    codes name their own keys (a position, a follower, ...)."""

    model_config = ConfigDict(extra="allow")
    problems: list[FieldProblem] | None = Field(
        default=None, description="validation_failed: each field refused and why.")


def error_answer_model(extra_codes: Iterable[str] = ()) -> type[BaseModel]:
    """The one error shape, its codes every registered error class's (all of them:
    ``service.errors`` imports each module that defines one) and ``extra_codes``."""
    return _error_answer_model(tuple(dict.fromkeys(
        [*(cls.code for cls in ERROR_CLASSES), *extra_codes])))


@cache
def _error_answer_model(codes: tuple[str, ...]) -> type[BaseModel]:
    error_code = StrEnum("ErrorCode", {code: code for code in codes})  # type: ignore[misc]
    error_code.__doc__ = "Every code the service answers (README, 'Errors')."

    class ErrorBody(BaseModel):
        """A refusal or a failure: a stable machine code, a message that quotes no input,
        and details by code."""

        code: error_code
        message: str
        details: ErrorDetails

    class ErrorAnswer(BaseModel):
        """Every answer with a status of 400 or above."""

        error: ErrorBody

    return ErrorAnswer


def declare_contract(app: FastAPI, extra_codes: Iterable[str] = ()) -> None:
    """Describe every route's errors in the OpenAPI document ``app`` builds (FastAPI's
    documented way to extend it: the document is amended, FastAPI's routing left as it is).
    ``extra_codes``: codes the HTTP layer answers itself, with no error class."""
    build = app.openapi
    codes = tuple(extra_codes)

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI's, cached until the routes change
        _amend(document, app, error_answer_model(codes))
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def errors_of(route: Any) -> set[type[LedgerError]]:
    """Every error class ``route`` (an APIRoute, or one as included by its router) can
    answer with: see the module's docstring."""
    found = {cls for cls in ERROR_CLASSES if cls.http_status >= 500}
    if _takes_input(route):
        found.add(ValidationFailedError)
    for dependant in _dependants(route.dependant):
        found.update(getattr(dependant.call, _RAISES, ()))
        if isinstance(dependant.call, SecurityBase):
            found.add(AuthenticationError)  # it reads a credential, which may be no session
    return found


def _amend(document: dict[str, Any], app: FastAPI, answer: type[BaseModel]) -> None:
    """Idempotent: the same document amended again is the same."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    definitions = answer.model_json_schema(ref_template=_REF + "{model}")
    schemas.update(definitions.pop("$defs", {}))
    schemas[answer.__name__] = definitions
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            _type_other_answers(operation)
            _declare_errors(operation, route, answer)
    # FastAPI's own validation error, declared where the route declared no 422 itself.
    if _REF + "HTTPValidationError" not in json.dumps(document["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def _declare_errors(operation: dict[str, Any], route: Any, answer: type[BaseModel]) -> None:
    by_status: dict[int, list[str]] = {}
    for cls in sorted(errors_of(route), key=lambda cls: (cls.http_status, cls.code)):
        by_status.setdefault(cls.http_status, []).append(cls.code)
    declared: dict[int | str, dict[str, Any]] = route.responses
    for status in [s for s in declared if str(s).isdigit() and int(s) >= 400]:
        by_status.setdefault(int(status), [])
    for status, codes in sorted(by_status.items()):
        own = declared.get(status) or declared.get(str(status)) or {}
        if "model" in own:
            continue  # the route answers this status with a model of its own
        response = operation["responses"].setdefault(str(status), {})
        response["description"] = own.get("description") or (
            "error: " + ", ".join(f"`{code}`" for code in codes) if codes else "error")
        response["content"] = {"application/json": {"schema": {
            "$ref": _REF + answer.__name__}}}
        if status in HEADERS_OF_STATUS:
            response["headers"] = HEADERS_OF_STATUS[status]


def _type_other_answers(operation: dict[str, Any]) -> None:
    """An answer that is not JSON (a text, a file) and names no schema is a string."""
    for status, response in operation["responses"].items():
        for media_type, content in response.get("content", {}).items():
            if status.startswith("2") and not content.get("schema"):
                text = media_type.startswith("text/")
                content["schema"] = {"type": "string"} | ({} if text else {"format": "binary"})


def _takes_input(route: Any) -> bool:
    return bool(route.methods & _BODY_METHODS or route.body_field or any(
        dependant.path_params or dependant.query_params or dependant.header_params
        or dependant.cookie_params for dependant in _dependants(route.dependant)))


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)

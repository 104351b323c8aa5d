"""The contract is read from each route, not listed per route: a route added by anyone, in
a router of its own or after the contract was declared, is described by the same rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from ledger.domain.errors import NotFoundError, PermissionDeniedError
from service.errors import ERROR_CLASSES
from service.http_contract import declare_contract, raises

ERROR_ANSWER = {"$ref": "#/components/schemas/ErrorAnswer"}
BEARER = HTTPBearer(auto_error=False)
SERVER_FAILURES = {str(cls.http_status) for cls in ERROR_CLASSES if cls.http_status >= 500}


class Answer(BaseModel):
    done: bool


@raises(PermissionDeniedError)
def checked_actor() -> str:
    return "someone"


def statuses(app: FastAPI, path: str, method: str = "get") -> dict[str, Any]:
    responses: dict[str, Any] = app.openapi()["paths"][path][method]["responses"]
    return responses


def app_with_a_late_router() -> FastAPI:
    app = FastAPI()

    @app.get("/plain", response_model=Answer)
    def plain() -> Answer:
        return Answer(done=True)

    declare_contract(app)
    router = APIRouter(prefix="/late")  # included after the contract: described all the same

    @router.post("/{item}", response_model=Answer)
    @raises(NotFoundError)
    def act(item: str, actor: Annotated[str, Depends(checked_actor)]) -> Answer:
        return Answer(done=bool(item and actor))

    app.include_router(router)
    return app


def test_a_route_with_no_input_and_no_dependencies_declares_only_the_server_failures() -> None:
    responses = statuses(app_with_a_late_router(), "/plain")

    assert set(responses) == {"200"} | SERVER_FAILURES
    assert all(responses[status]["content"]["application/json"]["schema"] == ERROR_ANSWER
               for status in SERVER_FAILURES)


def test_a_route_added_later_declares_its_input_its_dependencies_and_its_own_errors() -> None:
    responses = statuses(app_with_a_late_router(), "/late/{item}", "post")

    assert set(responses) == {"200", "403", "404", "422"} | SERVER_FAILURES
    assert responses["404"]["description"] == "error: `not_found`"
    assert responses["422"]["content"]["application/json"]["schema"] == ERROR_ANSWER


def test_a_status_the_route_declares_itself_keeps_its_model_or_gets_the_error_shape() -> None:
    app = FastAPI()

    @app.get("/health", response_model=Answer, responses={
        503: {"model": Answer, "description": "degraded"},
        429: {"description": "too many requests"}})
    def health() -> Answer:
        return Answer(done=True)

    declare_contract(app)
    responses = statuses(app, "/health")

    assert responses["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Answer"}
    assert responses["429"] == {"description": "too many requests", "content": {
        "application/json": {"schema": ERROR_ANSWER}}}


def test_amending_the_document_again_changes_nothing() -> None:
    app = app_with_a_late_router()
    first = app.openapi()
    snapshot = repr(first)

    assert repr(app.openapi()) == snapshot


def test_a_route_reading_a_bearer_token_may_answer_unauthenticated() -> None:
    app = FastAPI()

    @app.get("/scrape", response_model=Answer)
    def scrape(credentials: Annotated[Any, Depends(BEARER)]) -> Answer:
        return Answer(done=credentials is not None)

    declare_contract(app)

    assert set(statuses(app, "/scrape")) == {"200", "401"} | SERVER_FAILURES


def test_an_answer_that_is_not_json_and_names_no_schema_is_declared_a_string() -> None:
    app = FastAPI()

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain; version=0.0.4": {}}}})
    def metrics() -> Response:
        return Response("up 1\n", media_type="text/plain; version=0.0.4")

    @app.get("/file", response_class=Response, responses={200: {"content": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
    def file() -> Response:
        return Response(b"PK")

    declare_contract(app)

    assert statuses(app, "/metrics")["200"]["content"]["text/plain; version=0.0.4"] == {
        "schema": {"type": "string"}}
    assert statuses(app, "/file")["200"]["content"][
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"] == {
        "schema": {"type": "string", "format": "binary"}}

"""What ``/openapi.json`` tells a user of the API (issue 11, item 4; issue 18, item 7): the
shape of the customer profile and of a change set they send, every route's parameters once,
the shape of every answer, and every error status each route can answer, in the one error
shape with its codes as an enum."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.domain.profile import CHANGEABLE_PATHS, CustomerProfile
from service.errors import ERROR_CLASSES
from service.http import HTTP_LAYER_CODES, create_app

pytestmark = pytest.mark.e2e

OPENAPI: dict[str, Any] = create_app().openapi()
SCHEMAS: dict[str, Any] = OPENAPI["components"]["schemas"]


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``$ref``, or an optional one (``anyOf`` it and null), followed."""
    if "$ref" in schema:
        return resolved(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    variants = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return resolved(variants[0]) if len(variants) == 1 else schema


def body_of(path: str) -> dict[str, Any]:
    content = OPENAPI["paths"][path]["post"]["requestBody"]["content"]
    return resolved(content["application/json"]["schema"])


def test_the_profile_a_registration_sends_is_documented_group_by_group_field_by_field(
        ) -> None:
    profile = resolved(body_of("/commands/register-customer")["properties"]["profile"])

    assert set(profile["properties"]) == set(CustomerProfile.model_fields)
    assert profile["additionalProperties"] is False
    basic = resolved(profile["properties"]["basic"])
    assert {"name", "phone", "email", "address"} <= set(basic["properties"])
    assert resolved(basic["properties"]["email"])["format"] == "email"
    contact = resolved(profile["properties"]["contacts"]["items"])
    assert contact["required"] == ["name"]


def test_a_change_set_is_documented_as_the_paths_a_proposal_may_set_with_their_types(
        ) -> None:
    changes = resolved(body_of("/commands/propose-change")["properties"]["changes"])

    assert set(changes["properties"]) == CHANGEABLE_PATHS
    assert changes["additionalProperties"] is False
    assert changes["minProperties"] == 1
    assert resolved(changes["properties"]["basic.phone"])["format"] == "phone"
    assert resolved(changes["properties"]["basic.address"])["required"] == ["country"]


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, methods in OPENAPI["paths"].items()
            for method, operation in methods.items()]


def test_every_answer_of_every_route_is_documented_with_its_fields() -> None:
    for path, method, operation in operations():
        successes = {status: response for status, response in operation["responses"].items()
                     if status.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            for media_type, content in response["content"].items():
                answer = content["schema"]
                if media_type != "application/json":  # a file or a text: typed as a string
                    assert answer.get("type") == "string", (method, path, status, media_type)
                    continue
                assert "$ref" in answer, (method, path, status, answer)
                assert resolved(answer)["properties"], (method, path, status)


ERROR_ANSWER = {"$ref": "#/components/schemas/ErrorAnswer"}


def error_statuses(operation: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(status): response for status, response in operation["responses"].items()
            if int(status) >= 400}


def test_every_error_status_of_every_route_is_documented_in_the_one_error_shape() -> None:
    for path, method, operation in operations():
        errors = error_statuses(operation)

        assert {500, 503} <= set(errors), (method, path)
        if 401 in errors:  # RFC 9110: a 401 names the scheme to use
            assert errors[401]["headers"]["WWW-Authenticate"]["required"], (method, path)
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            # A probe (/healthz) may answer 503 with its own typed report; a refusal never.
            assert schema == ERROR_ANSWER or (status >= 500 and resolved(schema)[
                "properties"]), (method, path, status, schema)
    assert "HTTPValidationError" not in json.dumps(OPENAPI)  # FastAPI's detail[] shape


def test_what_a_route_takes_and_who_it_acts_for_decide_the_errors_it_declares() -> None:
    for path, method, operation in operations():
        errors = set(error_statuses(operation))
        takes_input = bool(operation.get("parameters") or operation.get("requestBody")
                           or method == "post")
        authenticated = bool(operation.get("security")) or path == "/auth/login"

        assert (422 in errors) == takes_input, (method, path, errors)
        assert (401 in errors) == authenticated, (method, path, errors)
        # Logging out needs a token but acts for no one: nothing to authorise.
        assert (403 in errors) == (authenticated and path != "/auth/logout"), (method, path)
        if path.startswith("/commands/"):
            assert {403, 404, 409} <= errors, (method, path, errors)
        if "{" in path:
            assert 404 in errors, (method, path, errors)


def test_the_error_codes_are_an_enum_of_every_code_the_service_answers() -> None:
    body = resolved(SCHEMAS["ErrorAnswer"]["properties"]["error"])
    codes = resolved(body["properties"]["code"])

    assert set(body["required"]) == {"code", "message", "details"}
    assert set(codes["enum"]) == {cls.code for cls in ERROR_CLASSES} | set(HTTP_LAYER_CODES)
    problems = resolved(body["properties"]["details"])["properties"]["problems"]
    assert resolved(problems)["items"] == {"$ref": "#/components/schemas/FieldProblem"}


def test_each_model_has_one_schema_for_what_is_sent_and_what_is_answered() -> None:
    # Split "-Input"/"-Output" schemas share a title: a generator makes one class of the
    # two or drops both (and every answer that uses them).
    titles = [schema.get("title", name) for name, schema in SCHEMAS.items()]

    assert not [name for name in SCHEMAS if name.endswith(("-Input", "-Output"))]
    assert len(titles) == len(set(titles))


def test_every_operation_has_its_own_name() -> None:
    names = [operation["operationId"] for _, _, operation in operations()]

    assert len(names) == len(set(names))
    assert {"register-customer", "get-customer", "login"} <= set(names)


def test_every_route_names_each_of_its_parameters_once() -> None:
    for path, method, operation in operations():
        names = [(p["name"], p["in"]) for p in operation.get("parameters", [])]

        assert len(names) == len(set(names)), (method, path, names)
        assert all(p["schema"] for p in operation.get("parameters", [])), (method, path)


def test_a_customer_in_an_answer_is_documented_with_its_profile_and_masked_fields() -> None:
    answer = OPENAPI["paths"]["/customers/{customer_id}"]["get"]["responses"]["200"]
    customer = resolved(resolved(answer["content"]["application/json"]["schema"])[
        "properties"]["customer"])

    profile = resolved(customer["properties"]["profile"])
    assert set(profile["properties"]) == set(CustomerProfile.model_fields)
    assert "masked_fields" in customer["properties"]
    assert "reflects_position" in resolved(answer["content"]["application/json"]["schema"])[
        "properties"]


def test_a_command_answers_its_outcome_with_the_position_of_its_write() -> None:
    for path, _, operation in operations():
        if path.startswith("/commands/"):
            answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
            outcome = resolved(answer)
            assert {"command_id", "aggregate_id", "version", "result", "replayed",
                    "position"} <= set(outcome["properties"]), path

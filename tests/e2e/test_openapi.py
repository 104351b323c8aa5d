"""What ``/openapi.json`` tells a user of the API (issue 11, item 4): the shape of the
customer profile and of a change set they send, every route's parameters once, and the
shape of every answer."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.profile import CHANGEABLE_PATHS, CustomerProfile
from service.http import create_app

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


# The one answer that is not JSON: the Prometheus text format, documented as such.
TEXT_ANSWERS = {"/metrics": "text/plain; version=0.0.4; charset=utf-8"}


def test_every_answer_of_every_route_is_documented_with_its_fields() -> None:
    for path, method, operation in operations():
        content = operation["responses"]["200"]["content"]
        if path in TEXT_ANSWERS:
            assert set(content) == {TEXT_ANSWERS[path]}, (method, path)
            continue
        answer = content["application/json"]["schema"]

        assert "$ref" in answer, (method, path, answer)
        assert resolved(answer)["properties"], (method, path)


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

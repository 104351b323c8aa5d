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

"""Every validation problem is the field and a fixed text for its rule: pydantic's own
messages that quote the input (a UUID's bad character, email-validator's reasons, a made-up
key) are replaced in the one place problems are built."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, EmailStr, ValidationError

from ledger.domain.problems import problems_from

SECRET = "王明13800138000"


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: UUID | None = None
    email: EmailStr | None = None


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        Form.model_validate(data)
    return [(p.field, p.message) for p in problems_from(
        caught.value.errors(include_input=False, include_url=False), default="form")]


@pytest.mark.parametrize(("data", "expected"), [
    ({"customer_id": SECRET}, ("customer_id", "is not a valid UUID")),
    ({"email": f"{SECRET}@@example.com"}, ("email", "is not a valid e-mail address")),
    ({"email": f"{SECRET}@example"}, ("email", "is not a valid e-mail address")),
    ({f"x_{SECRET}": 1}, ("form", "names a field that does not exist")),
])
def test_a_refused_value_is_named_by_its_field_and_rule_only(
        data: dict[str, Any], expected: tuple[str, str]) -> None:
    assert problems(data) == [expected]

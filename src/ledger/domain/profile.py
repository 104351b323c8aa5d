"""The customer information model (CI-1, CI-2): the profile's schema, and its validation
against the entry standard (CI-4) and the mandatory fields (CI-3).

A profile is validated here and then kept, in events and in state, as the plain JSON
form pydantic dumps (Decimal as string, dates as ISO strings), so replaying history
never depends on re-running validation. The value types are in ``ledger.domain.values``,
the path helpers in ``ledger.domain.paths``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_extra_types.country import CountryAlpha2

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import message
from ledger.domain.paths import JsonDict, apply_changes, value_at
from ledger.domain.problems import problems_from
from ledger.domain.values import (
    Email,
    Money,
    Name,
    OptionalName,
    OptionalText,
    Phone,
    Text,
    blank_to_none,
    normalise_text,
)


class SourceChannel(StrEnum):
    """Where a customer record came from (CI-1)."""

    SALES = "sales"
    CUSTOMER_SERVICE = "customer_service"
    MARKET_RESEARCH = "market_research"
    PARTNER = "partner"
    OTHER = "other"


class BusinessScale(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class CreditRating(StrEnum):
    AAA = "AAA"
    AA = "AA"
    A = "A"
    BBB = "BBB"
    BB = "BB"
    B = "B"
    CCC = "CCC"
    CC = "CC"
    C = "C"
    D = "D"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Address(_Model):
    country: CountryAlpha2
    region: OptionalName = None
    city: OptionalName = None
    street: OptionalText = None
    postal_code: Annotated[
        Annotated[str, AfterValidator(normalise_text), Field(max_length=20)] | None,
        BeforeValidator(blank_to_none),
    ] = None


class BasicInfo(_Model):
    name: OptionalName = None
    legal_representative: OptionalName = None
    address: Address | None = None
    phone: Phone = None
    fax: Phone = None
    email: Email = None
    business_scope: OptionalText = None


class Purchase(_Model):
    on: date
    description: Text
    amount: Money


class SalesFigure(_Model):
    period: Annotated[str, Field(pattern=r"^\d{4}(-(Q[1-4]|\d{2}))?$")]
    amount: Money


class BusinessInfo(_Model):
    scale: BusinessScale | None = None
    business_type: OptionalText = None
    purchase_history: list[Purchase] = Field(default_factory=list)
    sales_figures: list[SalesFigure] = Field(default_factory=list)


class Contact(_Model):
    name: Name
    title: OptionalName = None
    phone: Phone = None
    email: Email = None


class Needs(_Model):
    functional_needs: OptionalText = None
    quality_requirements: OptionalText = None
    price_expectation: Money | None = None


class PaymentRecord(_Model):
    on: date
    amount: Money
    on_time: bool


class Credit(_Model):
    rating: CreditRating | None = None
    credit_limit: Money | None = None
    payment_records: list[PaymentRecord] = Field(default_factory=list)


class ProgressNote(_Model):
    on: date
    text: Text


class OtherInfo(_Model):
    special_requirements: OptionalText = None
    project_progress_notes: list[ProgressNote] = Field(default_factory=list)


class CustomerProfile(_Model):
    """Everything the ledger knows about one customer, by information group (CI-2)."""

    source_channel: SourceChannel | None = None
    source_detail: OptionalName = None
    basic: BasicInfo = Field(default_factory=BasicInfo)
    business: BusinessInfo = Field(default_factory=BusinessInfo)
    contacts: list[Contact] = Field(default_factory=list)
    needs: Needs = Field(default_factory=Needs)
    credit: Credit | None = None
    other: OtherInfo = Field(default_factory=OtherInfo)


_GROUPS: dict[str, type[_Model]] = {
    "basic": BasicInfo,
    "business": BusinessInfo,
    "needs": Needs,
    "credit": Credit,
    "other": OtherInfo,
}
WHOLE_VALUE_PATHS = ("source_channel", "source_detail", "contacts", "credit")

CHANGEABLE_PATHS: frozenset[str] = frozenset(
    [*WHOLE_VALUE_PATHS]
    + [f"{group}.{field}" for group, model in _GROUPS.items() for field in model.model_fields]
)
"""Every path a change proposal may set: a group's field, or a whole-valued entry."""


def _problems_from(error: ValidationError, prefix: str = "") -> list[Problem]:
    # Only the location and the rule are reported: pydantic's "input" would leak values.
    return problems_from(error.errors(include_input=False, include_url=False),
                         default="profile", prefix=prefix)


def _is_present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        try:
            return bool(normalise_text(value))
        except ValueError:
            return True  # present, and refused by validation for what it holds
    if isinstance(value, list | dict):
        return bool(value)
    return True


def missing_mandatory_fields(data: JsonDict, mandatory: list[list[str]]) -> list[Problem]:
    """Each mandatory entry is a list of alternatives: at least one must be present (CI-3)."""
    problems = []
    for alternatives in mandatory:
        if not any(_is_present(value_at(data, path)) for path in alternatives):
            message = "is required" if len(alternatives) == 1 else (
                "at least one of " + ", ".join(alternatives) + " is required"
            )
            problems.append(Problem(field=" | ".join(alternatives), message=message))
    return problems


def validate_profile(data: Any, mandatory: list[list[str]]) -> JsonDict:
    """Validate a whole profile; return its normalised JSON form or raise naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailedError([Problem("profile", "must be an object")])
    problems = missing_mandatory_fields(data, mandatory)
    try:
        profile = CustomerProfile.model_validate(data)
    except ValidationError as error:
        problems.extend(_problems_from(error))
    if problems:
        raise ValidationFailedError(problems)
    return profile.model_dump(mode="json")


def check_change_paths(changes: Any) -> list[Problem]:
    if not isinstance(changes, dict) or not changes:
        return [Problem("changes", "must name at least one field to change")]
    # The path is the caller's text (it may be anything, a phone number too): a problem
    # names the entry by its place in the change set, never by what it says.
    return [
        Problem("changes", message("entry {index}: is not a field that can be changed",
                                   index=index))
        for index, path in enumerate(changes)
        if path not in CHANGEABLE_PATHS
    ]


def validate_changes(profile: JsonDict, changes: Any, mandatory: list[list[str]]) -> JsonDict:
    """Validate a change set against the profile it would produce; return the normalised changes.

    The whole resulting profile must still meet the entry standard and the mandatory
    fields, so a change can never leave a record incomplete (P3).
    """
    problems = check_change_paths(changes)
    if problems:
        raise ValidationFailedError(problems)
    candidate = apply_changes(profile, changes)
    normalised = validate_profile(candidate, mandatory)
    return {path: value_at(normalised, path) for path in changes}

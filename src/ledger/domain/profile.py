"""The customer information model (CI-1, CI-2) and its one entry standard (CI-4).

A profile is validated here and then kept, in events and in state, as the plain JSON
form pydantic dumps (Decimal as string, dates as ISO strings), so replaying history
never depends on re-running validation.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
)
from pydantic_extra_types.country import CountryAlpha2
from pydantic_extra_types.currency_code import ISO4217
from pydantic_extra_types.phone_numbers import PhoneNumber

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.paths import value_at
from ledger.domain.problems import problems_from

JsonDict = dict[str, Any]


# Whitespace a person types or pastes (a tab, a line break in a copied address): collapsed
# to one space like any other run of spaces. Every other control character (NUL, ESC, DEL,
# C1 controls, ...) has no place in text a person entered and is refused.
_TYPED_CONTROLS = frozenset("\t\n\r")


def normalise_text(value: str) -> str:
    """The one entry rule for free text (CI-4), applied to every text field of a profile.

    A control character other than tab, line feed or carriage return is refused
    (``ValueError``). Invisible format characters (Unicode category Cf: zero-width space,
    joiner and non-joiner, BOM, soft hyphen, bidi controls, ...) are removed wherever they
    are, so two names that look the same are stored, searched and compared the same. Then
    whitespace runs become one space, the ends are trimmed, and the text is NFC-normalised.
    Letters, marks and punctuation of any script are kept as they are.
    """
    # Most values arrive clean: printable (so the only whitespace is " " and there is no
    # control or format character), single-spaced, trimmed and already NFC. They are
    # returned as they are, without the character-by-character work below (27 fields a
    # command).
    if (value.isprintable() and value[:1] != " " and value[-1:] != " "
            and "  " not in value and unicodedata.is_normalized("NFC", value)):
        return value
    return _normalise_text_fully(value)


def without_invisible(value: str) -> str:
    """``value`` with its invisible format characters (Cf) removed; a control character
    other than tab, line feed or carriage return is refused (``ValueError``).

    The part of the entry rule that every text a command carries follows (reasons and
    deletion details keep their line breaks); profile fields also get ``normalise_text``."""
    if value.isprintable():
        return value
    visible = []
    for character in value:
        category = unicodedata.category(character)
        if category == "Cc" and character not in _TYPED_CONTROLS:
            raise ValueError("must not contain control characters")
        if category != "Cf":
            visible.append(character)
    return "".join(visible)


def _normalise_text_fully(value: str) -> str:
    # Removed before NFC, so characters a format character kept apart compose; the space
    # that joins the words is a boundary NFC never composes across.
    return unicodedata.normalize("NFC", " ".join(without_invisible(value).split()))


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not normalise_text(value):
        return None
    return value


# Digits and the punctuation people type between them: a number written with nothing else
# cannot carry an extension (every extension form needs a letter or a mark such as "#", ";"
# or ","), so it skips the second parse (the E164Phone type parses it anyway).
_PLAIN_NUMBER = frozenset("+0123456789 -().")


def _no_extension(value: Any) -> Any:
    # E.164 has no room for an extension; dropping it silently would lose data (P3).
    if isinstance(value, str) and not _PLAIN_NUMBER.issuperset(value):
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return value
        if parsed.extension:
            raise ValueError("extensions cannot be stored in E.164; note them separately")
    return value


def _no_float(value: Any) -> Any:
    # A JSON float may already have lost digits; money must arrive as a string or integer.
    if isinstance(value, float):
        raise ValueError("give money amounts as a string or integer, not a float")
    return value


class E164Phone(PhoneNumber):
    """A phone number in international form, stored as E.164; no country is guessed."""

    default_region_code = None
    phone_format = "E164"


Text = Annotated[str, AfterValidator(normalise_text), Field(min_length=1, max_length=2000)]
Name = Annotated[str, AfterValidator(normalise_text), Field(min_length=1, max_length=200)]
OptionalText = Annotated[Text | None, BeforeValidator(_blank_to_none)]
OptionalName = Annotated[Name | None, BeforeValidator(_blank_to_none)]
Phone = Annotated[E164Phone | None, BeforeValidator(_no_extension),
                  BeforeValidator(_blank_to_none)]
Email = Annotated[EmailStr | None, BeforeValidator(_blank_to_none), AfterValidator(
    lambda value: value.lower() if value else value
)]


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


class Money(_Model):
    """An amount of money: a decimal with its ISO 4217 currency, never a float."""

    amount: Annotated[Decimal, BeforeValidator(_no_float), Field(max_digits=20, decimal_places=4)]
    currency: ISO4217


class Address(_Model):
    country: CountryAlpha2
    region: OptionalName = None
    city: OptionalName = None
    street: OptionalText = None
    postal_code: Annotated[
        Annotated[str, AfterValidator(normalise_text), Field(max_length=20)] | None,
        BeforeValidator(_blank_to_none),
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
        Problem("changes", f"entry {index}: is not a field that can be changed")
        for index, path in enumerate(changes)
        if path not in CHANGEABLE_PATHS
    ]


def apply_changes(profile: JsonDict, changes: JsonDict) -> JsonDict:
    """Return a copy of ``profile`` with every path in ``changes`` set (no validation)."""
    updated: JsonDict = {key: (dict(value) if isinstance(value, dict) else value)
                         for key, value in profile.items()}
    for path, value in changes.items():
        if "." in path:
            group, field = path.split(".", 1)
            section = updated.get(group)
            section = dict(section) if isinstance(section, dict) else {}
            section[field] = value
            updated[group] = section
        else:
            updated[path] = value
    return updated


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


def paths_overlap(left: str, right: str) -> bool:
    """True when setting one path can change the value at the other."""
    return left == right or left.startswith(right + ".") or right.startswith(left + ".")

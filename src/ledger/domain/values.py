"""The entry standard's values (CI-4): the one rule for free text, and the value types a
profile is built from (text, names, phone numbers, e-mail addresses, money).

Each type validates and normalises one value; ``ledger.domain.profile`` assembles them into
the customer information model.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field
from pydantic_extra_types.currency_code import ISO4217
from pydantic_extra_types.phone_numbers import PhoneNumber

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


def blank_to_none(value: Any) -> Any:
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
OptionalText = Annotated[Text | None, BeforeValidator(blank_to_none)]
OptionalName = Annotated[Name | None, BeforeValidator(blank_to_none)]
Phone = Annotated[E164Phone | None, BeforeValidator(_no_extension),
                  BeforeValidator(blank_to_none)]
Email = Annotated[EmailStr | None, BeforeValidator(blank_to_none), AfterValidator(
    lambda value: value.lower() if value else value
)]


class Money(BaseModel):
    """An amount of money: a decimal with its ISO 4217 currency, never a float."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    amount: Annotated[Decimal, BeforeValidator(_no_float), Field(max_digits=20, decimal_places=4)]
    currency: ISO4217

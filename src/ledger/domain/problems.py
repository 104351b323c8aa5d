"""Validation problems as the ledger reports them: where, and which rule, never the input.

pydantic's messages are mostly the rule ("String should have at most 200 characters"), but
some quote what was typed: a UUID's "invalid character: found `王` at 0", email-validator's
"contains invalid characters: '@'", a date's or JSON's parse detail. And a location can be
input too: a key the caller made up ("basic.secret_13800138000") is the location of its
``extra_forbidden`` error. Every problem the ledger reports (profile, command, query, HTTP
request) is built here, so one table decides what may be said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import PydanticKnownError

from ledger.domain.errors import Problem
from ledger.domain.messages import N_, Message, fill

# Error types whose pydantic message carries detail derived from the input (its ``ctx``
# holds an ``error`` or ``reason`` built from the value): each gets a fixed text.
_FIXED: dict[str, str] = {
    "uuid_parsing": N_("is not a valid UUID"),
    "uuid_type": N_("is not a valid UUID"),
    "uuid_version": N_("is not a UUID of the expected version"),
    "date_parsing": N_("is not a valid date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("is not a valid date (YYYY-MM-DD)"),
    "datetime_parsing": N_("is not a valid date and time (ISO 8601)"),
    "datetime_from_date_parsing": N_("is not a valid date and time (ISO 8601)"),
    "time_parsing": N_("is not a valid time"),
    "time_delta_parsing": N_("is not a valid duration"),
    "json_invalid": N_("is not valid JSON"),
    "url_parsing": N_("is not a valid URL"),
    "decimal_parsing": N_("is not a valid decimal number"),
    "int_parsing": N_("is not a valid integer"),
    "float_parsing": N_("is not a valid number"),
    "bool_parsing": N_("is not a valid boolean"),
    "extra_forbidden": N_("names a field that does not exist"),
    # pydantic-extra-types' own errors (country and currency codes): English words that no
    # catalogue of pydantic's holds.
    "country_alpha2": N_("is not an ISO 3166-1 alpha-2 country code"),
    "ISO4217": N_("is not an ISO 4217 currency code"),
}
# pydantic-extra-types' phone number errors come as plain ``value_error``s: by their words.
_LIBRARY_WORDS: dict[str, str] = {
    "value is not a valid phone number": N_("is not a valid phone number"),
    "value is not from a supported region": N_("is not a phone number of a supported region"),
}
# email-validator's reasons quote the address's characters: one text for all of them.
_EMAIL = N_("is not a valid e-mail address")
_NOT_VALID = N_("is not valid")
_EMAIL_MESSAGE = "value is not a valid email address"
_INPUT_DERIVED_CONTEXT = ("error", "reason")


def problem_message(detail: Mapping[str, Any]) -> str:
    """The text for one pydantic error: fixed per error type wherever pydantic's own would
    quote the input; otherwise pydantic's, built from the schema's limits alone, or the
    ledger's own validators' words (which never quote a value)."""
    kind = str(detail.get("type", ""))
    message = str(detail.get("msg", ""))
    if kind in _FIXED:
        return _FIXED[kind]
    if message.startswith(_EMAIL_MESSAGE):
        return _EMAIL
    if message in _LIBRARY_WORDS:
        return _LIBRARY_WORDS[message]
    context = detail.get("ctx") or {}
    if kind == "value_error" and isinstance(context.get("error"), ValueError):
        # The ledger's own ValueError: its message, a template with its parameters kept.
        reason = context["error"].args[0] if context["error"].args else None
        if isinstance(reason, Message):
            return reason
        return message.removeprefix("Value error, ")
    if any(key in context for key in _INPUT_DERIVED_CONTEXT):
        return _NOT_VALID
    return _pydantic_message(kind, message, context) or _NOT_VALID


def _pydantic_message(kind: str, message: str, context: Mapping[str, Any]) -> str:
    """pydantic's own message as a ``Message`` of pydantic's own template and the error's
    context (its limits: never the input), so it can be read in another language; the
    message as it is when the template does not give it back exactly."""
    try:
        template = PydanticKnownError(kind, dict(context)).message_template  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return message  # not one of pydantic's known types (a custom error)
    # pydantic's English plural ("1 character", "5 characters") is a placeholder of its own:
    # each form is a template of the catalogue (a language may have no plural at all).
    for plural in ("", "s"):
        singular_or_plural = template.replace("{expected_plural}", plural)
        try:
            if fill(singular_or_plural, context) == message:
                return Message(singular_or_plural, context)
        except (KeyError, IndexError, ValueError):
            continue
    return message


def problem_location(detail: Mapping[str, Any], *, skip: Iterable[str] = ()) -> str:
    """Where the error is, without any part the caller made up: the unknown key of an
    ``extra_forbidden`` error is left out (its parent is named instead)."""
    parts = [str(part) for part in detail.get("loc", ()) if part not in set(skip)]
    if detail.get("type") == "extra_forbidden" and parts:
        parts = parts[:-1]
    return ".".join(parts)


def problems_from(details: Iterable[Mapping[str, Any]], *, default: str, prefix: str = "",
                  skip: Iterable[str] = ()) -> list[Problem]:
    """One problem per pydantic error detail (``errors(include_input=False)``)."""
    skipped = tuple(skip)
    return [Problem(f"{prefix}{problem_location(detail, skip=skipped)}" or default,
                    problem_message(detail))
            for detail in details]

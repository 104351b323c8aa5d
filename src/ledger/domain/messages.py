"""User-facing texts as the ledger keeps them: an English template and its parameters.

A text the ledger shows a person (an error, a problem, a login notice, a table heading) is
written once, in English, as a ``str.format`` template with named placeholders, and is the
message's stable id (gettext's ``msgid``) in the catalogue ``ledger/locale`` holds
(``ledger.i18n``). The template and the parameters travel and are stored; the text is
rendered when it is read, in the reader's language. Nothing here does I/O: the domain marks
and carries texts, the adapters translate them.

``N_`` marks a template where no raise site or known call names it already (the
completeness test extracts every marked template, ``tests/unit/test_messages.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# A lookup from an English template to the reader's (gettext's ``gettext``).
Translate = Callable[[str], str]


def english(template: str) -> str:
    """The English text of a template: the template itself."""
    return template


def N_(template: str) -> str:  # noqa: N802 - gettext's own name for the marker
    """Mark a literal as a user-facing template: returned unchanged, found by extraction."""
    return template


def fill(template: str, params: Mapping[str, Any], translate: Translate | None = None) -> str:
    """The template with its parameters in; a template without placeholders is itself.

    A parameter that is a text of its own (a ``Message``: a step to take, the word "none")
    is read in the language too, and a tuple of them is listed, comma-separated."""
    if not params:
        return template
    return template.format_map({name: _value(value, translate or english)
                                for name, value in params.items()})


def _value(value: Any, translate: Translate) -> Any:
    if isinstance(value, Message):
        return value.rendered(translate)
    if isinstance(value, tuple):
        return ", ".join(str(_value(item, translate)) for item in value)
    return value


class Message(str):
    """A text that is its English rendering (so it reads, compares and serialises as it
    always did) and that keeps its template and parameters to be rendered again in the
    reader's language."""

    template: str
    params: Mapping[str, Any]

    def __new__(cls, template: str, params: Mapping[str, Any] | None = None) -> Message:
        values = dict(params or {})
        self = super().__new__(cls, fill(template, values))
        self.template = template
        self.params = values
        return self

    def rendered(self, translate: Translate = english) -> str:
        return fill(translate(self.template), self.params, translate)


def as_message(text: str) -> Message:
    """``text`` as a message (a plain literal is its own template), to be a parameter that
    is read in the reader's language too."""
    return text if isinstance(text, Message) else Message(text)


def message(template: str, /, **params: Any) -> Message:
    """A user-facing text from its English template and named parameters."""
    return Message(template, params)


def rendered(text: str, translate: Translate = english) -> str:
    """Any text in the reader's language: a ``Message`` by its template, a plain string by
    its own text as the template (a literal raise site's message is its msgid)."""
    if isinstance(text, Message):
        return text.rendered(translate)
    return translate(text)


def localised(data: Any, translate: Translate) -> Any:
    """``data`` (an answer: dicts, lists, values) with each ``Message`` in it read in the
    reader's language; every other value as it is. English needs no walk: a message is its
    English text already."""
    if translate is english:
        return data
    if isinstance(data, Message):
        return data.rendered(translate)
    if isinstance(data, dict):
        return {key: localised(value, translate) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return type(data)(localised(value, translate) for value in data)
    return data

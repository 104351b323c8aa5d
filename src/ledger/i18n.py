"""The ledger's languages: English and Simplified Chinese (SPEC P7, issue 17).

Every user-facing text is an English ``str.format`` template (``ledger.domain.messages``):
the template is its gettext ``msgid``, so English needs no catalogue and is what is stored,
logged and answered when no other language is asked for. The Chinese texts are the gettext
catalogue ``ledger/locale/zh_CN/LC_MESSAGES/ledger.po``, read once when first needed.

A language is chosen per reader: on HTTP from ``Accept-Language`` (``language_of_request``),
on the command line from ``--lang``, ``LEDGER_LANG``, ``LC_ALL``/``LANG``
(``language_of_environment``); else the policy's ``locale``. Only Simplified Chinese tags
select Chinese: ``zh``, ``zh-CN``, ``zh-Hans`` and ``zh-Hans-CN``; ``zh-TW``, ``zh-HK`` and
``zh-Hant`` are Traditional Chinese readers, who are not served Simplified characters
silently: they get the default.

Moments, days, numbers and money are written for a person with Babel (CLDR's formats of
the language; a moment in the policy's time zone, which it names); what machines read
(HTTP bodies, ``--json``, stored events) keeps ISO 8601 and plain numbers.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from importlib import resources
from io import BytesIO
from typing import TYPE_CHECKING, Any, Final

from ledger.domain.messages import Translate, english, fill

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

# Babel is imported where it is first needed: a process that speaks only English, or reads
# no language tag, never loads it (``babel.messages`` alone costs ~20 ms to import).

ENGLISH: Final = "en"
CHINESE: Final = "zh-CN"
LANGUAGES: Final = (ENGLISH, CHINESE)
DOMAIN: Final = "ledger"
# Where each language's catalogue is, under the ledger package (gettext's layout).
CATALOGUES: Final = {CHINESE: f"locale/zh_CN/LC_MESSAGES/{DOMAIN}.po"}


def catalogue(language: str) -> dict[str, str]:
    """The translated texts of ``language`` by English template (empty for English): the
    catalogue's entries that have a text and are not marked fuzzy."""
    source = _catalogue(language)
    return {} if source is None else {
        str(entry.id): str(entry.string) for entry in source
        if entry.id and entry.string and not entry.fuzzy}


@cache
def _catalogue(language: str) -> Catalog | None:
    path = CATALOGUES.get(language)
    if path is None:
        return None
    from babel.messages.pofile import read_po

    with resources.files("ledger").joinpath(path).open("rb") as source:
        return read_po(source, domain=DOMAIN)


@cache
def _translations(language: str) -> gettext.GNUTranslations | None:
    """The language's catalogue as gettext reads it: the ``.po`` source, read by Babel and
    compiled to the ``.mo`` form in memory the first time the language is asked for (once
    per process; English loads nothing). ``write_mo`` leaves fuzzy and untranslated
    entries out, so they read as the English template."""
    from babel.messages.mofile import write_mo

    source = _catalogue(language)
    if source is None:
        return None
    compiled = BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translator(language: str) -> Translate:
    """The lookup for ``language``: a template's text in it, else the English template.
    (An empty text is itself: gettext's entry for ``""`` is the catalogue's header.)"""
    translations = _translations(language)
    if translations is None:
        return english
    lookup = translations.gettext
    return lambda template: lookup(template) if template else template


def render(template: str, params: Mapping[str, Any], language: str) -> str:
    translate = translator(language)
    return fill(translate(template), params, translate)


def language_of_tag(tag: str) -> str | None:
    """The ledger's language for one BCP 47 or POSIX locale tag (``zh_CN.UTF-8``), or None
    when it has none for it (a language it does not speak, Traditional Chinese, ``C``).

    Babel parses the tag; a Chinese tag is Simplified by its script, given (``zh-Hans``,
    ``zh-Hant``) or else the likely one CLDR names for its region (``zh-CN``, ``zh-SG``
    and plain ``zh``: Hans; ``zh-TW``, ``zh-HK``, ``zh-MO``: Hant). Babel's own
    ``negotiate_locale`` is not enough: it falls back from ``zh-TW`` to plain ``zh``."""
    from babel.core import parse_locale

    base = tag.split(".", 1)[0].split("@", 1)[0].replace("_", "-")
    try:
        language, territory, script, *_ = parse_locale(base, sep="-")
    except ValueError:  # not a tag: "", "*", private use
        return None
    if language == "en":
        return ENGLISH
    if language == "zh" and (script or _likely_script(language, territory)) == "Hans":
        return CHINESE
    return None


def _likely_script(language: str, territory: str | None) -> str | None:
    """CLDR's likely script for a language in a region (``zh_TW``: Hant), else for the
    language (``zh``: Hans), as Babel ships it."""
    from babel.core import get_global, parse_locale

    likely = get_global("likely_subtags")
    full = likely.get(f"{language}_{territory}") if territory else None
    full = full or likely.get(language)
    return parse_locale(full)[2] if full else None


def language_of_accept(header: str | None, default: str) -> str:
    """The language an ``Accept-Language`` header (RFC 9110, with q-values) asks for among
    the ledger's, the best first; ``default`` when it names none of them (or only ``*``)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "").split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return default
        language = language_of_tag(tag)
        if language is not None:
            return language
    return default


def language_of_environment(flag: str | None, environ: Mapping[str, str],
                            default: str) -> str:
    """The command line's language: ``--lang``, else ``LEDGER_LANG``, else the POSIX locale
    (the first set of ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, which decides alone, as POSIX
    has it: ``C`` or a language the ledger does not speak gives the default), else
    ``default`` (the policy's ``locale``)."""
    for value in (flag, environ.get("LEDGER_LANG")):
        language = language_of_tag(value) if value else None
        if language is not None:
            return language
    posix = next((environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG")
                  if environ.get(name)), None)
    language = language_of_tag(posix) if posix else None
    return language or default


# Babel's locale for each of the ledger's languages (CLDR's ids).
LOCALES: Final = {ENGLISH: "en", CHINESE: "zh_Hans_CN"}


def format_moment(moment: datetime, language: str, zone: tzinfo) -> str:
    """A moment as a person reads it in ``language``, in the time zone ``zone`` (the
    policy's), which the text names (CLDR's abbreviation, else its offset): "November 27,
    2026, 11:00:00 AM +0800", "2026年11月27日 +0800 11:00:00"; "... 10:00:00 PM EST".
    Machines get ISO 8601 (HTTP, ``--json``)."""
    from babel.dates import format_datetime

    return format_datetime(moment, "long", tzinfo=zone, locale=LOCALES[language])


def format_day(day: date, language: str) -> str:
    """A calendar day (already the policy's: a deadline, a training day) in ``language``."""
    from babel.dates import format_date

    return format_date(day, "long", locale=LOCALES[language])


def format_number(number: int | Decimal, language: str) -> str:
    """A count or an amount with the language's digit grouping: 1,234."""
    from babel.numbers import format_decimal

    return format_decimal(number, locale=LOCALES[language])


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """An amount of money in its ISO 4217 currency, as the language writes it: CN¥1,234.50
    in English, ¥1,234.50 in Chinese; the currency's own decimal places."""
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale=LOCALES[language])

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
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

from ledger.domain.messages import Translate, english, fill

ENGLISH: Final = "en"
CHINESE: Final = "zh-CN"
LANGUAGES: Final = (ENGLISH, CHINESE)
DOMAIN: Final = "ledger"
# Where each language's catalogue is, under the ledger package (gettext's layout).
CATALOGUES: Final = {CHINESE: f"locale/zh_CN/LC_MESSAGES/{DOMAIN}.po"}


def catalogue(language: str) -> dict[str, str]:
    """The translated texts of ``language`` by English template (empty for English)."""
    path = CATALOGUES.get(language)
    return {} if path is None else _read(path)


@cache
def _read(path: str) -> dict[str, str]:
    text = resources.files("ledger").joinpath(path).read_text(encoding="utf-8")
    return {msgid: msgstr for msgid, msgstr in read_po(text).items() if msgid and msgstr}


def read_po(text: str) -> dict[str, str]:
    """The ``msgid`` -> ``msgstr`` pairs of a PO file (no plurals or contexts: the ledger's
    catalogue uses neither). A stand-in for ``babel.messages.pofile.read_po`` while Babel is
    not a dependency; the strings are PO's C-style literals, which Python reads alike."""
    entries: dict[str, str] = {}
    key: str | None = None
    parts: dict[str, list[str]] = {"msgid": [], "msgstr": []}

    def close() -> None:
        if key is not None:
            entries["".join(parts["msgid"])] = "".join(parts["msgstr"])

    for line in (raw.strip() for raw in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "msgid":
            close()
            parts = {"msgid": [], "msgstr": []}
        if word in parts:
            key, line = word, rest
        elif not line.startswith('"') or key is None:
            raise ValueError(f"not a PO line the ledger's catalogue uses: {word}")
        parts[key].append(str(ast.literal_eval(line)))
    close()
    return entries


def translator(language: str) -> Translate:
    """The lookup for ``language``: a template's text in it, else the English template."""
    texts = catalogue(language)
    if not texts:
        return english
    return lambda template: texts.get(template, template)


def render(template: str, params: Mapping[str, Any], language: str) -> str:
    translate = translator(language)
    return fill(translate(template), params, translate)


def language_of_tag(tag: str) -> str | None:
    """The ledger's language for one BCP 47 or POSIX locale tag (``zh_CN.UTF-8``), or None
    when it has none for it (a language it does not speak, Traditional Chinese, ``C``)."""
    base = tag.split(".", 1)[0].split("@", 1)[0].replace("_", "-").lower()
    subtags = base.split("-")
    if subtags[0] == "en":
        return ENGLISH
    if subtags[0] != "zh":
        return None
    rest = subtags[1:]
    if not rest or rest in (["cn"], ["hans"], ["hans", "cn"], ["sg"], ["hans", "sg"]):
        return CHINESE
    return None


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

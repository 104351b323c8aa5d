"""The catalogue is complete (issue 17): every user-facing template in the source has its
Simplified Chinese text with the same placeholders, no entry is left over from a text the
source no longer has, and no new text is built in place (an f-string message, a printed
literal) where a template belongs. ``tests/catalogue.py`` scans the source."""

from __future__ import annotations

import string
from collections import Counter

import pytest
from babel.messages.pofile import read_po
from pydantic_core import PydanticKnownError

from ledger.i18n import CATALOGUES, CHINESE, catalogue
from tests.catalogue import CATALOGUE, SOURCE, po_entries, scan

# pydantic's own messages the ledger renders from pydantic's templates (ledger.domain.
# problems): each error type that the ledger's models meet with limits in their context.
PYDANTIC_TYPES = ("missing", "string_too_short", "string_too_long", "string_pattern_mismatch",
                  "greater_than", "greater_than_equal", "less_than", "less_than_equal",
                  "string_type", "int_type", "float_type", "bool_type", "list_type",
                  "dict_type", "model_type", "literal_error", "enum", "too_short", "too_long",
                  "int_from_float", "decimal_max_digits", "decimal_max_places")

# The sites that still build a user-facing text in place (an f-string or a concatenation
# as an error's message, a literal or f-string printed by the command line), per file:
# shown in English whatever the language. None is left; a file that gains one fails the
# test below (make it a template with parameters, or name it here with why it must stay).
STILL_ENGLISH: dict[str, int] = {}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


# Enough context for pydantic to build each error (its template does not depend on it).
_CONTEXT = {"min_length": 1, "max_length": 1, "actual_length": 1, "pattern": "", "gt": 1,
            "ge": 1, "lt": 1, "le": 1, "class_name": "", "expected": "", "field_type": "",
            "max_digits": 1, "decimal_places": 1}


def _pydantic_templates() -> set[str]:
    templates = set()
    for kind in PYDANTIC_TYPES:
        template = PydanticKnownError(kind, _CONTEXT).message_template  # type: ignore[arg-type]
        templates |= {template.replace("{expected_plural}", plural) for plural in ("", "s")}
    return templates


@pytest.fixture(scope="module")
def templates() -> set[str]:
    found, _ = scan()
    return {site.text for site in found}


def test_the_catalogue_is_where_the_ledger_reads_it() -> None:
    assert SOURCE / "ledger" / CATALOGUES[CHINESE] == CATALOGUE
    with CATALOGUE.open("rb") as source:
        entries = read_po(source)
    assert catalogue(CHINESE) == {m.id: m.string for m in entries if m.id and m.string}
    assert not [m.id for m in entries if m.fuzzy and m.id], "a fuzzy text is not shown"


def test_every_template_in_the_source_has_a_chinese_text(templates: set[str]) -> None:
    chinese = catalogue(CHINESE)
    missing = sorted((templates | _pydantic_templates()) - chinese.keys())

    assert not missing, ("templates without a Chinese text; add these entries to "
                         f"{CATALOGUE.relative_to(SOURCE.parent)}:\n" + po_entries(missing))


def test_every_chinese_text_has_the_placeholders_of_its_template() -> None:
    differing = {template: text for template, text in catalogue(CHINESE).items()
                 if _placeholders(template) != _placeholders(text)}

    assert not differing


def test_no_entry_is_left_over_from_a_text_the_source_no_longer_has(
        templates: set[str]) -> None:
    left_over = sorted(catalogue(CHINESE).keys() - templates - _pydantic_templates())

    assert not left_over


def test_no_user_facing_text_is_built_in_place_beyond_those_known() -> None:
    _, unmarked = scan()
    counts = Counter(site.path for site in unmarked)
    new = {path: [site for site in unmarked if site.path == path]
           for path, count in counts.items() if count > STILL_ENGLISH.get(path, 0)}
    fewer = {path: (known, counts.get(path, 0)) for path, known in STILL_ENGLISH.items()
             if counts.get(path, 0) < known}

    assert not new, ("a user-facing text built in place (make it a template: message("
                     "'... {name} ...', name=...), or tr(...) on the command line): "
                     f"{new}")
    assert not fewer, f"fewer texts built in place than STILL_ENGLISH says: lower it {fewer}"


def test_the_scan_finds_raise_sites_problems_tables_and_printed_literals(tmp_path) -> None:
    cli = tmp_path / "service" / "cli"
    cli.mkdir(parents=True)
    (cli / "sample.py").write_text(
        'raise NotFoundError("no such thing")\n'
        'raise ConflictError(f"version {v} is old")\n'
        'Problem("basic.name", "is too long")\n'
        'rows = table("customer id", "name")\n'
        'out.print(f"{n} found")\n'
        'note("done")\n'
        'note(tr(message("{n} found", n=n)))\n'
        'raise ValueError(f"internal: {x}")\n'
        'raise ValidationFailedError([], "no input")\n'
        'rows.add_row(when or "never", "yes" if done else tr("no"))\n'
        'shown = table("a", title=f"Report {name}")\n'
        'shown = table("b", title=tr(message("Report {name}", name=name)))\n'
        'out.print(literal(f"Rebuilt {names}"), literal(name))\n'
        'def refuse(n):\n'
        '    refused = f"{n} processes need PostgreSQL"\n'
        '    raise ValidationFailedError([Problem("workers", refused)], refused)\n',
        encoding="utf-8")

    found, unmarked = scan(tmp_path)

    assert [s.text for s in found] == ["no such thing", "is too long", "customer id", "name",
                                       "{n} found", "no input", "no", "a", "b",
                                       "Report {name}"]
    assert [(s.line, s.text) for s in unmarked] == [
        (2, "f'version {v} is old'"), (5, "f'{n} found'"), (6, "'done'"), (10, "'never'"),
        (10, "'yes'"), (11, "f'Report {name}'"),
        (13, "f'Rebuilt {names}'"), (16, "f'{n} processes need PostgreSQL'"),
        (16, "f'{n} processes need PostgreSQL'")]

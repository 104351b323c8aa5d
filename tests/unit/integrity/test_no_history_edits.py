"""OP-4, issue 5 point 8: no public path edits or deletes stored history. The HTTP API has no
route that replaces or removes anything, and only reads history; no SQL anywhere in the
product changes or removes an event or a seal."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from service.http import create_app

SOURCE = Path(__file__).resolve().parents[3] / "src"
HISTORY = r"(stored_events|ledger_events|integrity_chain|integrity_checkpoints|\{[^}]*\.table\})"
EDITS = re.compile(rf"(?is)\b(UPDATE\s+{HISTORY}|DELETE\s+FROM\s+{HISTORY}|TRUNCATE\b[^;]*"
                   rf"{HISTORY}|DROP\s+TABLE[^;]*{HISTORY}|ALTER\s+TABLE[^;]*{HISTORY})")


def sql_texts(path: Path) -> list[tuple[int, str]]:
    """Every string and f-string in a module, f-strings with their placeholders kept."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            found.append((node.lineno, ast.unparse(node)))
    return found


def edits_of_history(path: Path) -> list[str]:
    return [f"{path.name}:{line}: {text}" for line, text in sql_texts(path)
            if EDITS.search(text)]


@pytest.mark.parametrize("statement", [
    "DELETE FROM stored_events WHERE rowid = 3", "UPDATE ledger_events SET state = x",
    'f"UPDATE {self.table} SET state"', "TRUNCATE ledger_events",
    "DELETE FROM integrity_chain", "DROP TABLE IF EXISTS stored_events",
])
def test_the_scan_recognises_an_edit_of_history(statement: str) -> None:
    assert EDITS.search(statement)


def test_no_sql_in_the_product_edits_or_deletes_history() -> None:
    found = [hit for path in sorted(SOURCE.rglob("*.py")) for hit in edits_of_history(path)]
    assert found == []


def test_the_http_api_has_no_route_that_replaces_or_removes_anything() -> None:
    paths = create_app().openapi()["paths"]
    methods = {(method, path) for path, item in paths.items() for method in item}

    assert {method for method, _ in methods} <= {"get", "post"}
    history = re.compile(r"history|event|audit|integrity|chain|checkpoint")
    assert {method for method, path in methods if history.search(path)} <= {"get"}

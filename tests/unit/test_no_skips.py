"""The README's promise that the suite skips no test: a case one backend cannot hold is
not collected for it (``sqlite_only``), never skipped at run time. Only the PostgreSQL
fixture may skip, and only where no server runs and LEDGER_REQUIRE_POSTGRES is unset."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SKIPPING = re.compile(r"pytest\.skip\(|pytest\.mark\.skip|pytest\.mark\.skipif|importorskip")


def test_no_test_module_skips_a_test() -> None:
    skipping = [f"{path.relative_to(TESTS)}:{number}"
                for path in TESTS.rglob("*.py") if path.name != "conftest.py"
                and path != Path(__file__).resolve()
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if SKIPPING.search(line)]

    assert skipping == []

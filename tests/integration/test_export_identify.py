"""Trace marks (EX-1, EX-4), on SQLite and PostgreSQL: a leaked file, whole or cut down,
names the export it came from: by its visible mark, its canary rows, or the keyed order of
20 or more of its rows; a file that matches no export says so."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

import pytest

from ledger.domain.errors import PermissionDeniedError, ValidationFailedError
from ledger.export_marks import TraceKey
from service.bootstrap import Ledger
from service.client import LedgerClient
from tests.integration.export_support import CLERK, FINANCE, exporter, register_customers
from tests.store_snapshot import only_a_denial_recorded

FIELDS = ["basic.name", "basic.phone", "basic.email", "source_channel", "registered_at"]
AUDITOR = ["auditor"]


def _auditor(ledger: Ledger) -> LedgerClient:
    return LedgerClient.in_process(ledger, "wu.hao", roles=AUDITOR)


def _identify(ledger: Ledger, content: bytes) -> dict[str, Any]:
    ledger.runner.catch_up()
    return _auditor(ledger).identify_export(content)


def _export(ledger: Ledger, fmt: str = "csv", actor: Any = CLERK) -> dict[str, Any]:
    return exporter(ledger, actor).export_customers(FIELDS, purpose="trade fair invitations",
                                                    format=fmt)


def _rows(content: bytes) -> tuple[list[str], list[str], list[list[str]]]:
    mark, header, *rows = csv.reader(io.StringIO(content.decode()))
    return mark, header, rows


def _csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode()



@pytest.fixture
def customers(ledger: Ledger) -> set[str]:
    return {c["customer_id"] for c in register_customers(ledger, 60)}


def test_the_whole_file_names_its_export_by_all_three_marks(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    found = _identify(ledger, export["content"])
    assert found["identified"] is True
    named = found["export"]
    assert (named["export_id"], named["exporter"], named["purpose"]) == (
        export["export_id"], CLERK.id, "trade fair invitations")
    assert named["evidence"] == ["visible_mark", "canary_rows", "row_order"]
    assert named["canary_rows"] == export["result"]["canaries"] == 6


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_each_format_names_its_export(ledger: Ledger, customers: set[str], fmt: str) -> None:
    export = _export(ledger, fmt)
    _export(ledger, fmt)  # another export of the same query is not the one named
    found = _identify(ledger, export["content"])
    assert found["identified"] and found["export"]["export_id"] == export["export_id"]


def test_the_file_without_its_header_lines_names_its_export(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    _export(ledger)
    _, _, rows = _rows(export["content"])
    found = _identify(ledger, _csv(rows))
    assert found["identified"] and found["export"]["export_id"] == export["export_id"]
    assert "visible_mark" not in found["export"]["evidence"]
    assert set(found["export"]["evidence"]) == {"canary_rows", "row_order"}


def test_25_random_rows_in_file_order_with_columns_dropped_name_the_export(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    _export(ledger)
    _, _, rows = _rows(export["content"])
    rng = random.Random(15)
    kept = sorted(rng.sample(range(len(rows)), 25))
    part = [[rows[i][0], rows[i][3]] for i in kept]  # the id and the channel only
    found = _identify(ledger, _csv(part))
    assert found["identified"] and found["export"]["export_id"] == export["export_id"]
    assert found["rows_examined"] == 25


def test_25_random_rows_reordered_with_columns_dropped_name_the_export_by_a_canary(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    _export(ledger)
    _, _, rows = _rows(export["content"])
    canaries = [row for row in rows if row[0] not in customers]
    real = [row for row in rows if row[0] in customers]
    rng = random.Random(25)
    part = [*rng.sample(real, 24), rng.choice(canaries)]
    rng.shuffle(part)
    # The customer id is dropped too: the canary's name and phone still tell it.
    found = _identify(ledger, _csv([[row[1], row[2], row[4]] for row in part]))
    assert found["identified"] and found["export"]["export_id"] == export["export_id"]
    assert found["export"]["evidence"] == ["canary_rows"]


def test_a_masked_export_is_named_by_its_masked_canaries(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger, actor=FINANCE)
    _, _, rows = _rows(export["content"])
    canaries = [row for row in rows if row[0] not in customers]
    found = _identify(ledger, _csv([[row[1], row[2], row[3]] for row in canaries[:1]]))
    assert found["identified"] and found["export"]["export_id"] == export["export_id"]


def test_reordered_real_rows_alone_match_no_export(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    _, _, rows = _rows(export["content"])
    real = [row for row in rows if row[0] in customers]
    random.Random(3).shuffle(real)
    found = _identify(ledger, _csv(real[:25]))
    assert found == found | {"identified": False, "export": None, "matches": [],
                             "message": "the file matches no export"}


def test_an_edited_visible_mark_does_not_verify(ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    mark, header, _ = _rows(export["content"])
    forged = [cell.replace(CLERK.id, "someone.else") for cell in mark]
    found = _identify(ledger, _csv([forged, header]))
    assert found["identified"] is False


def test_canary_rows_never_share_a_digest_with_a_real_customer(
        ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    trace = TraceKey.derived(ledger.protector.keyed_hash)
    with ledger.views.snapshot() as cursor:
        real = {(kind, digest) for kind, digest in cursor.all(
            "SELECT kind, digest FROM customer_search")}
    assert len(real) > 200
    for index in range(200):
        canary = trace.canary(export["export_id"], index)
        digests = {pair for path, value in canary.searchable().items()
                   for pair in ledger.protector.digests(path, value)}
        assert len(digests) == 4
        assert not digests & real
        assert canary.customer_id not in customers


def test_identifying_needs_the_permission(ledger: Ledger, customers: set[str]) -> None:
    export = _export(ledger)
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        exporter(ledger).identify_export(export["content"])


def test_a_file_that_is_no_export_format_is_a_clear_error(
        ledger: Ledger, customers: set[str]) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        _identify(ledger, b"\xff\xfe\x00garbage")
    assert json.dumps(refused.value.as_dict()).count("garbage") == 0

"""ExportCustomers through the real bus on the in-memory store, reading from a fake source:
the keyed row order, the canary rows in their slots (one that a real customer's digest
matches is skipped), and the file's audit record."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from typing import Any

from commands.bus import MessageBus
from commands.exports import ExportCustomers, Exports
from ledger.domain.export import Export, ExportFilter, Selection, rows_digest
from ledger.domain.sensitivity import Clearance
from ledger.export_marks import TraceKey, canary_count
from tests.conftest import ALICE
from tests.fakes import WriteSide
from tests.store_snapshot import snapshot_store

REAL = [{"customer_id": f"00000000-0000-4000-8000-{n:012d}", "basic.name": f"Firm {n}"}
        for n in range(45)]


class FakeSource:
    """Every real row, and the canary values a real customer is said to share."""

    def __init__(self, shared: set[str] | None = None) -> None:
        self.shared = shared or set()

    def select(self, criteria: ExportFilter, columns: list[str], clearance: Clearance
               ) -> Selection:
        rows = [{column: row.get(column) for column in columns} for row in REAL]
        return Selection(7, rows, [], rows_digest([(r["customer_id"], 1) for r in REAL]))

    def taken(self, candidates: list[dict[str, str]]) -> set[int]:
        return {index for index, values in enumerate(candidates)
                if set(values.values()) & self.shared}


def _bus(ledger: WriteSide, exports: Exports) -> MessageBus:
    return MessageBus(ledger.store, ledger.policy, exports.handlers(),
                      authoriser=ledger.access.authoriser, clock=ledger.bus.clock,
                      personal_data=ledger.protector)


def _export(ledger: WriteSide, source: FakeSource, trace: TraceKey) -> tuple[dict[str, Any],
                                                                           list[list[str]]]:
    exports = Exports(source, trace, lambda actor, roles: Clearance(frozenset()))
    command = ExportCustomers(fields=["basic.name"], purpose="test")
    outcome = _bus(ledger, exports).execute(command, ALICE)
    file = exports.files.take(command.command_id)
    assert file is not None
    return outcome, list(csv.reader(io.StringIO(file.content.decode())))[2:]


def test_rows_follow_the_keyed_order_and_canaries_sit_among_them(ledger: WriteSide) -> None:
    trace = TraceKey(secrets.token_bytes(32))
    outcome, rows = _export(ledger, FakeSource(), trace)
    export_id = outcome["result"]["export_id"]
    real = [row[0] for row in rows if row[1].startswith("Firm ")]
    assert real == sorted(real, key=lambda cid: trace.order_key(export_id, cid))
    canaries = [row for row in rows if not row[1].startswith("Firm ")]
    assert len(canaries) == canary_count(45) == 5 == outcome["result"]["canaries"]
    assert {row[0] for row in canaries} == {trace.canary(export_id, i).customer_id
                                            for i in range(5)}


def test_a_canary_that_shares_a_value_with_a_real_customer_is_skipped(
        ledger: WriteSide) -> None:
    trace = TraceKey(secrets.token_bytes(32))
    # The export's first canary is said to share its email with a real customer.
    skipped = {"placeholder"}
    source = FakeSource(skipped)
    exports = Exports(source, trace, lambda actor, roles: Clearance(frozenset()))
    command = ExportCustomers(fields=["basic.name", "basic.email"], purpose="test")
    original = trace.canary
    calls: list[int] = []

    def spy(export_id: str, index: int) -> Any:
        calls.append(index)
        canary = original(export_id, index)
        if index == 0:
            skipped.add(canary.email)
        return canary

    trace.canary = spy  # type: ignore[method-assign]
    outcome = _bus(ledger, exports).execute(command, ALICE)
    file = exports.files.take(command.command_id)
    assert file is not None
    ids = {row[0] for row in list(csv.reader(io.StringIO(file.content.decode())))[2:]}
    export_id = outcome["result"]["export_id"]
    assert original(export_id, 0).customer_id not in ids
    assert {original(export_id, i).customer_id for i in range(1, 6)} <= ids
    assert outcome["result"]["canaries"] == 5 and calls[:6] == [0, 1, 2, 3, 4, 5]


def test_the_audit_record_holds_the_files_hash_and_no_row(ledger: WriteSide) -> None:
    trace = TraceKey(secrets.token_bytes(32))
    exports = Exports(FakeSource(), trace, lambda actor, roles: Clearance(frozenset()))
    command = ExportCustomers(fields=["basic.name"], purpose="test")
    _bus(ledger, exports).execute(command, ALICE)
    file = exports.files.take(command.command_id)
    assert file is not None and exports.files.take(command.command_id) is None  # once
    [record] = [r.decode(ledger.store) for r in snapshot_store(ledger.store).events
                if r.topic.endswith("Export.Produced")]
    assert isinstance(record, Export.Produced)
    assert record.sha256 == hashlib.sha256(file.content).hexdigest()
    assert (record.rows, record.reflects_position, record.exporter) == (45, 7, ALICE.id)
    stored = b"".join(r.state for r in snapshot_store(ledger.store).events)
    assert b"Firm 1" not in stored

"""``ledger audit history | as-of | trail | anomalies``: the auditor's replay tool (AU-5,
AU-4), as Rich tables, ``--json`` or ``--csv``.

They are queries through the client, so they run on the local database (a live one or a
restored copy) as the ``--actor`` account, or against a service with ``--url``; the auditor
role may only read, and each read of customer data is itself recorded.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import typer

from ledger.domain.messages import N_, message
from projections.anomalies import AuditAnomalies
from projections.audit import AuditTrailQuery
from service.cli.audit import audit_app
from service.cli.common import (
    cell,
    client,
    note,
    number,
    options,
    out,
    run,
    table,
    tr,
    when,
)
from service.cli.query_options import query_options

CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV rows instead of a table.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (as the global --json).")]


def _emit(result: dict[str, Any], rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
          title: str, as_json: bool, as_csv: bool) -> None:
    if as_json or options.json:
        out.print_json(json.dumps(result, ensure_ascii=False, default=str))
        return
    records = list(rows(result))
    if as_csv:
        columns = list(dict.fromkeys(key for record in records for key in record))
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: cell(value) for key, value in record.items()}
                         for record in records)
        return
    columns = list(dict.fromkeys(key for record in records for key in record))
    shown = table(*columns, title=title)
    for record in records:
        shown.add_row(*(cell(record.get(column, "")) for column in columns))
    out.print(shown)
    note(tr(message("{count} row(s)", count=number(len(records)))))


def _history_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for event in result["events"]:
        yield {"version": event["version"], "event": event["event"],
               "recorded at": event["recorded_at"], "actor": event["actor"] or "",
               "command id": event["command_id"] or "", "reason": event["reason"] or "",
               "facts": event["facts"]}


def _state_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    customer = result["customer"]
    yield {"field": "version", "value": customer["version"]}
    yield {"field": "erased", "value": customer["erased"]}
    for group, values in customer["profile"].items():
        if isinstance(values, dict):
            for name, value in values.items():
                if value not in (None, [], {}):
                    yield {"field": f"{group}.{name}", "value": value}
        elif values not in (None, [], {}):
            yield {"field": group, "value": values}
    yield {"field": "pending proposals", "value": customer["pending_proposals"]}
    yield {"field": "last review", "value": customer["last_review"]}


def _trail_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for entry in result["entries"]:
        yield {"position": entry["position"], "recorded at": entry["recorded_at"],
               "actor": entry["actor"] or "", "address": entry["client_address"] or "",
               "kind": entry["kind"], "operation": entry["operation"],
               "outcome": entry["outcome"], "targets": entry["targets"],
               "facts": entry["facts"]}


def _anomaly_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for anomaly in result["anomalies"]:
        details = {k: v for k, v in anomaly.items() if k not in ("kind", "subject")}
        yield {"kind": anomaly["kind"], "subject": anomaly["subject"], "details": details}


@audit_app.command("history")
def audit_history(customer_id: str, as_json: JsonFlag = False, as_csv: CsvFlag = False
                  ) -> None:
    """Every event of a customer: actor, time, command, reason; values as your clearance allows."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.customer_history(customer_id)

    _emit(run(action), _history_rows, tr(message("History of customer {customer_id}",
                                                 customer_id=customer_id)), as_json, as_csv)


@audit_app.command("as-of")
def audit_as_of(
    customer_id: str,
    at: Annotated[str, typer.Argument(help="ISO 8601 moment with offset, e.g. "
                                           "2026-11-27T10:00:00+08:00.")],
    as_json: JsonFlag = False, as_csv: CsvFlag = False,
) -> None:
    """A customer's state as it was at a moment, folded from its events up to then."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.customer_as_of(customer_id, at)

    _emit(run(action), _state_rows, tr(message("Customer {customer_id} as of {at}",
                                               customer_id=customer_id, at=when(at))),
          as_json, as_csv)


@audit_app.command("trail")
@query_options(AuditTrailQuery, "actor", "operation", "customer", "since", "until", "limit")
def audit_trail(as_json: JsonFlag = False, as_csv: CsvFlag = False, **fields: Any) -> None:
    """Commands, events and access records, filtered by actor, operation, customer and time."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.audit_trail(**fields)

    _emit(run(action), _trail_rows, tr(N_("Audit trail")), as_json, as_csv)


@audit_app.command("anomalies")
@query_options(AuditAnomalies, "since", "until")
def audit_anomalies(as_json: JsonFlag = False, as_csv: CsvFlag = False, **fields: Any) -> None:
    """Failed-login bursts, heavy readers, off-hours access, grants and incident locks."""
    since, until = fields["since"], fields["until"]

    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.audit_anomalies(since, until)

    _emit(run(action), _anomaly_rows, tr(message("Anomalies {since} .. {until}",
                                                 since=when(since), until=when(until))),
          as_json, as_csv)

"""``ledger projections verify`` and ``ledger keys verify`` (AU-6): what lies outside the
hash chain (read models, snapshots, the key store) checked against the event log.

Both exit 0 when everything follows from the log and 11 (``integrity_violation``) on any
finding, naming the read model and row keys, or the customer ids (never values or keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.text import Text

from ledger.domain.messages import N_, message
from ledger.integrity.report import IntegrityViolationError
from ledger.key_audit import KeyReport, verify_keys
from ledger.keystore import KeyStore
from ledger.logging import configure_logging
from ledger.snapshot_audit import verify_snapshots
from ledger.store import LedgerStore, open_store
from projections.verification import verify_read_models
from service.bootstrap import open_key_store, open_views
from service.cli.common import (
    err,
    fail,
    local_ledger,
    note,
    number,
    options,
    out,
    refuse_url,
    run,
    settings,
    show,
    table,
    tr,
)
from service.cli.operations import projections_app
from service.cli.privacy import keys_app
from service.key_material import load_index_key

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (as the global --json).")]


# Table cells are printed literally (DataTable): no escaping, or a backslash would show.
def _cell(value: Any) -> str:
    return str(value)


def _row_id(key: dict[str, Any]) -> str:
    """A row's primary key as ``column=value`` pairs, in a column that is never cut."""
    return " ".join(f"{column}={value}" for column, value in key.items())


def _verdict(ok: bool) -> Text:
    return Text(tr(N_("OK")), style="bold green") if ok else Text(
        tr(N_("DIFFERS FROM THE LOG")), style="bold red")


def _render_read_models(result: dict[str, Any]) -> None:
    out.print(Text.assemble(tr(N_("Read models and snapshots: ")), _verdict(result["ok"])),
              highlight=False)
    rows = table("read model", "position", "result", "digest")
    for check in result["read_models"]:
        rows.add_row(check["read_model"], str(check["position"]),
                     tr(N_("ok")) if check["ok"] else tr(message(
                         "{count} row(s) differ", count=number(check["differences_total"]))),
                     check["live_digest"][:16])
    snapshots = result["snapshots"]
    rows.add_row(tr(N_("snapshots")), "-", tr(N_("ok")) if snapshots["ok"] else tr(message(
                 "{differ} of {checked} differ", differ=snapshots["findings_total"],
                 checked=snapshots["checked"])),
                 tr(message("{checked} checked", checked=snapshots["checked"])))
    out.print(rows)
    found = table("read model", "table", "row id", "problem")
    for check in result["read_models"]:
        for difference in check["differences"]:
            columns = f" ({', '.join(difference['columns'])})" if difference["columns"] else ""
            found.add_row(check["read_model"], difference["table"],
                          _row_id(difference["key"]), _cell(difference["problem"] + columns))
    for finding in snapshots["findings"]:
        found.add_row(tr(N_("snapshots")), "-", _row_id({"aggregate_id": finding["aggregate_id"],
                                                 "version": finding["version"]}),
                      _cell(finding["problem"]))
    if found.row_count:
        out.print(found)


@projections_app.command("verify")
def projections_verify(as_json: JsonFlag = False) -> None:
    """Rebuild every read model into a scratch store and compare it with the live one at
    the same position, and refold every snapshot; exit 11 on any difference."""
    options.json = options.json or as_json

    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            projections = list(ledger.runner.projections.values())
            with Progress(TextColumn("rebuilding"), BarColumn(),
                          TextColumn("{task.completed}/{task.total} events"),
                          console=err, disable=options.json, transient=True) as bar:
                task = bar.add_task("verify", total=None)
                checks = verify_read_models(
                    ledger.store, ledger.views, projections,
                    progress=lambda done, head: bar.update(task, completed=done, total=head))
            snapshots = verify_snapshots(ledger.store, ledger.views)
        return {"ok": all(c.ok for c in checks) and snapshots.ok,
                "read_models": [c.as_dict() for c in checks], "snapshots": snapshots.as_dict()}

    result = run(action)
    show(result, _render_read_models)
    if not result["ok"]:
        differing = [c["read_model"] for c in result["read_models"] if not c["ok"]]
        if not result["snapshots"]["ok"]:
            differing.append("snapshots")
        fail(IntegrityViolationError(
            message("stored state does not follow from the event log: {differing}",
                    differing=", ".join(differing)),
            details={"differing": differing}))


@contextmanager
def _log_and_key_store() -> Iterator[tuple[LedgerStore, KeyStore]]:
    """The event log and the key store, without the start-up catch-up of the erasure
    follower that would destroy a revived key before it could be reported."""
    refuse_url()
    chosen = settings()
    configure_logging(chosen.model_copy(update={"log_level": "warning"}))
    index_key = load_index_key(chosen)
    views = open_views(chosen)
    try:
        keys = open_key_store(chosen, views, index_key)
        try:
            store = open_store(chosen, create_tables=False)
            try:
                yield store, keys
            finally:
                store.close()
        finally:
            if keys.db is not views:
                keys.db.close()
    finally:
        views.close()


def _render_keys(result: dict[str, Any]) -> None:
    out.print(Text.assemble(tr(N_("Key store: ")), _verdict(result["ok"])), highlight=False)
    rows = table("check", "count")
    for label, name in ((N_("live customers (log)"), "live_customers"),
                        (N_("erased customers (log)"), "erased_customers"),
                        (N_("stored data keys"), "stored_keys"),
                        (N_("spare keys made ahead"), "spare_keys")):
        rows.add_row(tr(label), str(result[name]))
    out.print(rows)
    if result["findings"]:
        found = table("customer id", "kind", "what is wrong")
        for finding in result["findings"]:
            found.add_row(finding["customer_id"], finding["kind"], _cell(finding["detail"]))
        out.print(found)
        note(tr(message("{count} finding(s)", count=number(len(result["findings"])))))


@keys_app.command("verify")
def keys_verify(as_json: JsonFlag = False) -> None:
    """Check the key store against the log: one key per live customer, none per erased one,
    no key without a customer; exit 11 on any finding."""
    options.json = options.json or as_json

    def action() -> KeyReport:
        with _log_and_key_store() as (store, keys):
            return verify_keys(store, keys)

    report = run(action)
    show(report.as_dict(), _render_keys)
    if not report.ok:
        kinds = sorted({finding.kind for finding in report.findings})
        fail(IntegrityViolationError(
            message("the key store does not follow from the event log: {count} finding(s) "
                    "({kinds})", count=number(len(report.findings)), kinds=", ".join(kinds)),
            details={"customer_ids": sorted({f.customer_id for f in report.findings})}))

"""``ledger backup``: full and incremental backups of the event log, key-store backups,
verify, restore, drill and status; and ``ledger projections digest``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn

from ledger.backup.check import Verdict
from ledger.backup.errors import BackupInvalidError, BackupOverdueError, DrillFailedError
from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from projections.digest import read_model_digests
from service.backup import BackupPlace, LiveBackups
from service.backup_drill import drill
from service.bootstrap import open_database
from service.cli.common import (
    err,
    fail,
    literal,
    local_administrator,
    local_ledger,
    number,
    options,
    out,
    redacted,
    run,
    settings,
    show,
    table,
    tr,
    when,
)
from service.cli.operations import projections_app
from service.policy import load_service_policy

backup_app = typer.Typer(help="Backups: full, incremental, key store; verify, restore, drill, "
                              "status.", no_args_is_help=True)


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(TextColumn(what), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=err, disable=options.json, transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _live() -> Iterator[LiveBackups]:
    with local_ledger() as ledger:
        if ledger.backups is None:
            raise ValidationFailedError([Problem("LEDGER_BACKUP_DIR", "is not set")],
                                        "no backup directory: set LEDGER_BACKUP_DIR")
        yield ledger.backups


live_backups = contextmanager(_live)


def _event_backup(kind: str) -> None:
    def action() -> dict[str, Any]:
        with live_backups() as backups, _progress(f"{kind} backup") as progress:
            manifest = backups.events(kind, local_administrator(), progress).manifest
            return {"backup_id": manifest.backup_id, "kind": manifest.kind,
                    "parent_id": manifest.parent_id, "records": manifest.records,
                    "first_position": manifest.first_position,
                    "last_position": manifest.last_position,
                    "bytes": sum(entry.size for entry in manifest.files),
                    "key_id": manifest.key_id, "directory": str(backups.place.events.path)}

    show(run(action), lambda r: out.print(literal(tr(message(
        "Backup {backup_id} ({kind}): {records} records, positions {first}..{last}, "
        "{bytes} bytes in {directory}", backup_id=r["backup_id"], kind=r["kind"],
        records=r["records"], first=r["first_position"], last=r["last_position"],
        bytes=r["bytes"], directory=r["directory"]))), highlight=False, soft_wrap=True))


@backup_app.command("full")
def backup_full() -> None:
    """Back up the whole event log (encrypted, signed) to LEDGER_BACKUP_DIR."""
    _event_backup("full")


@backup_app.command("incremental")
def backup_incremental() -> None:
    """Back up the records after the newest backup's last position."""
    _event_backup("incremental")


@backup_app.command("keys")
def backup_keys() -> None:
    """Back up the key store to its own directory (each backup under its own ring key);
    shred older ones that hold an erased customer's key, remove those past retention."""
    def action() -> dict[str, Any]:
        with live_backups() as backups:
            return backups.key_store(local_administrator())

    show(run(action), lambda r: out.print(literal(tr(message(
        "Key-store backup {backup_id}: {data_keys} data keys; shredded {shredded}, removed "
        "{removed} older", backup_id=r["backup_id"], data_keys=r["data_keys"],
        shredded=len(r["shredded"]), removed=len(r["removed"])))), highlight=False,
        soft_wrap=True))


def _place() -> BackupPlace:
    return BackupPlace.from_settings(settings())


def _render_verdicts(verdicts: list[dict[str, Any]]) -> None:
    rows = table("backup id", "kind", "status", "why")
    for verdict in verdicts:
        rows.add_row(verdict["backup_id"], verdict["kind"], verdict["status"],
                     verdict["reason"] or "")
    out.print(rows)


@backup_app.command("verify")
def backup_verify(
    backup_id: Annotated[str | None, typer.Argument(
        help="One backup (with its parents); default: every backup.")] = None,
) -> None:
    """Check backups without restoring: signatures, every file's hash, the chain of
    incrementals, the hash chain inside; exit 21 if any is invalid or missing."""
    verdicts: list[Verdict] = run(lambda: _place().verify(backup_id))
    show([v.as_dict() for v in verdicts], lambda r: _render_verdicts(r))
    bad = [v for v in verdicts if v.status in ("invalid", "missing")]
    if bad:
        first = bad[0]
        fail(BackupInvalidError(
            message("{count} backup(s) invalid or missing; first: {backup_id} ({status}{why})",
                    count=number(len(bad)), backup_id=first.backup_id, status=first.status,
                    why=": " + first.reason if first.reason else ""),
            details={"backup_id": first.backup_id, "file": first.file}))


@backup_app.command("restore")
def backup_restore(
    backup_id: Annotated[str, typer.Argument(help="The backup to restore (a full or an "
                                                  "incremental: its parents come with it).")],
    to: Annotated[str, typer.Option("--to", help="An empty database: sqlite:///... or "
                                                 "postgresql://...")],
    keys_to: Annotated[str | None, typer.Option(
        "--keys-to", help="Where the key store goes (default: as the target's settings "
                          "place it).")] = None,
    keys_backup: Annotated[str | None, typer.Option(
        "--keys", help="The key-store backup (default: the newest readable).")] = None,
) -> None:
    """Restore a backup chain into an empty database of either backend; apply the erasure
    register; verify the restored chain."""
    def action() -> dict[str, Any]:
        place = _place()
        with _progress("restoring") as progress:
            result = place.restore(backup_id, to, keys_to_url=keys_to,
                                   keys_backup_id=keys_backup, progress=progress,
                                   open_database=lambda url, s: open_database(url, s))
        result["to"] = redacted(to)
        return result

    show(run(action), lambda r: out.print(literal(tr(message(
        "Restored {backup_id} into {to}: {records} records (to position {position}), "
        "{data_keys} data keys, {erasures} erasures applied; chain {chain}",
        backup_id=r["backup_id"], to=r["to"], records=r["records"],
        position=r["last_position"], data_keys=r["data_keys"],
        erasures=r["erasures_applied"], chain=r["chain_status"]))), highlight=False,
        soft_wrap=True))


@backup_app.command("drill")
def backup_drill(
    scratch_url: Annotated[str | None, typer.Option(
        "--scratch-url", help="An empty database to restore into (default: a temporary "
                              "SQLite file, removed after).")] = None,
) -> None:
    """Restore the newest backups into a scratch database, rebuild every read model and
    compare digests with the live ones; report RTO and data-loss window; exit 22 on any
    mismatch."""
    def action() -> dict[str, Any]:
        place = _place()
        with local_ledger() as ledger:
            return drill(ledger, place, actor=local_administrator(), scratch_url=scratch_url)

    def render(r: dict[str, Any]) -> None:
        out.print(literal(tr(message(
            "Drill of {backup_id}: {outcome}; RTO {rto} s; data-loss window {positions} "
            "positions, {seconds} s", backup_id=r["backup_id"], outcome=r["outcome"],
            rto=r["rto_seconds"], positions=r["data_loss_positions"],
            seconds=r["data_loss_seconds"]))), highlight=False, soft_wrap=True)

    report = run(action)
    show(report, render)
    if report["mismatched"]:
        fail(DrillFailedError(message("the drill of {backup_id} did not match: {mismatched}",
                                      backup_id=report["backup_id"],
                                      mismatched=", ".join(report["mismatched"])),
                              details={"mismatched": report["mismatched"]}))


@backup_app.command("status")
def backup_status() -> None:
    """The last full, incremental, key-store backup and drill, their ages, and what is
    overdue by the [backup] policy; exit 23 when something is overdue."""
    def action() -> dict[str, Any]:
        chosen = settings()
        policy = load_service_policy(chosen.policy_file)
        return BackupPlace.from_settings(chosen).status(policy.backup,
                                                        datetime.now(UTC)).as_dict()

    def render(r: dict[str, Any]) -> None:
        rows = table("kind", "last id", "last at", "age (h)", "overdue")
        for name, kind in r["kinds"].items():
            age = kind["age_seconds"]
            rows.add_row(name, kind["last_id"] or "-", kind["last_success_at"] or tr(N_("never")),
                         "-" if age is None else f"{age / 3600:.1f}",
                         tr(N_("OVERDUE")) if kind["overdue"] else tr(N_("ok")))
        out.print(rows)
        if r["last_failure"]:
            failure = r["last_failure"]
            out.print(literal(tr(message(
                "last failure: {kind} at {at} ({code})", kind=failure.get("kind"),
                at=when(failure.get("at")), code=failure.get("code")))), highlight=False)

    report = run(action)
    show(report, render)
    if report["overdue"]:
        late = [name for name, kind in report["kinds"].items() if kind["overdue"]]
        fail(BackupOverdueError(message("backups overdue: {kinds}", kinds=", ".join(late)),
                                details={"overdue": late}))


@projections_app.command("digest")
def projections_digest() -> None:
    """A digest of each read model (the same rows give the same digest on either backend)."""
    def action() -> dict[str, Any]:
        with local_ledger() as ledger:
            ledger.runner.catch_up()
            return {"position": ledger.runner.position(),
                    "digests": read_model_digests(ledger.views, ledger.runner.projections)}

    def render(r: dict[str, Any]) -> None:
        rows = table("projection", "digest", title=tr(message(
            "Read models at position {position}", position=r["position"])))
        for name, digest in r["digests"].items():
            rows.add_row(name, digest)
        out.print(rows)

    show(run(action), render)

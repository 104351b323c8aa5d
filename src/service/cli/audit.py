"""``ledger audit ...``: tamper evidence. Verify the hash chain, export a signed checkpoint to
keep elsewhere, see how far sealing has got, seal now, and create a signing key. The replay
tool (``history``, ``as-of``, ``trail``, ``anomalies``) lives in ``cli/replay.py``.

Verification, status and export read the database over a read-only connection, so they
can run against a live store or a restored copy without changing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from ledger.domain.errors import NotFoundError, Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from ledger.integrity.checkpoints import SignedCheckpoint
from ledger.integrity.keys import (
    DEFAULT_KEY_FILE_NAME,
    create_key_file,
    public_key_pem,
    read_key_file,
    read_public_key_file,
)
from ledger.integrity.readonly import open_read_only, verify_database
from ledger.integrity.report import (
    IntegrityUnverifiedError,
    IntegrityViolationError,
    VerifyReport,
)
from ledger.integrity.sealer import seal_status
from ledger.integrity.storage import read_checkpoints, stored_event_log, tables_exist
from service.cli.common import (
    err,
    fail,
    literal,
    local_ledger,
    note,
    number,
    options,
    out,
    read_json,
    refuse_url,
    run,
    settings,
    show,
    table,
    tr,
)

audit_app = typer.Typer(help="Tamper evidence: verify the event history, export checkpoints.",
                        no_args_is_help=True)


def _read_exported(path: Path) -> SignedCheckpoint:
    return SignedCheckpoint.from_export(read_json(path))


def _render_report(report: dict[str, Any]) -> None:
    verdict, style = {"ok": (N_("OK"), "bold green"),
                      "tampered": (N_("TAMPERING DETECTED"), "bold red"),
                      "unverified": (N_("UNVERIFIED"), "bold yellow")}[report["status"]]
    out.print(Text.assemble(tr(N_("Integrity: ")), (tr(verdict), style)), highlight=False)
    rows = table("check", "result")
    rows.add_row(tr(N_("records read")), str(report["records"]))
    rows.add_row(tr(N_("sealed and verified")), str(report["sealed"]))
    rows.add_row(tr(N_("not sealed yet")), str(report["unsealed"]))
    rows.add_row(tr(N_("head / sealed position")),
                 f"{report['head_position']} / {report['sealed_position']}")
    rows.add_row(tr(N_("signed checkpoints verified")),
                 tr(message("{verified} of {stored} stored",
                            verified=report["checkpoints_verified"],
                            stored=report["checkpoints_stored"])))
    exported = report["exported_checkpoint"]
    if exported is not None:
        rows.add_row(tr(N_("exported checkpoint")), tr(message(
            "#{sequence} at position {position}: {verdict}", sequence=exported["sequence"],
            position=exported["position"], verdict=message("matches") if exported["matches"]
            else message("does NOT match"))))
    if report["started_after"]:
        rows.add_row(tr(N_("trusted history up to")), str(report["started_after"]))
    rows.add_row(tr(N_("covered by a trusted checkpoint up to")), str(report["covered_up_to"]))
    if report["unverified"]:
        rows.add_row(tr(N_("unverified (older than the checkpoint interval, not covered)")),
                     tr(message("{count}, from position {position}",
                                count=number(report["unverified"]),
                                position=report["first_unverified_position"])))
    rows.add_row(tr(N_("keys trusted")), report["trust"])
    out.print(rows)
    if report["findings"]:
        found = table("position", "kind", "what is wrong",
                      title=tr(message("Findings (first {shown} of {total})",
                                       shown=len(report["findings"]),
                                       total=report["findings_total"])))
        for finding in report["findings"]:
            since = tr(message(" (from position {position})", position=finding["since"])
                       ) if "since" in finding else ""
            found.add_row(str(finding["position"]), finding["kind"],
                          finding["detail"] + since)
        out.print(found)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="An exported checkpoint (JSON) to check the history against.")
    ] = None,
    from_checkpoint: Annotated[bool, typer.Option(
        "--from-checkpoint", help="Trust the history up to --checkpoint; verify only "
                                  "what follows it.")] = False,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The signing key's public half (PEM, from `ledger audit "
                             "public-key`) to judge the stored checkpoints against.")
    ] = None,
) -> None:
    """Recompute the hash chain over every stored record (read-only); exit 11 on tampering,
    12 if older records are covered by no checkpoint a trusted key verifies."""
    def action() -> VerifyReport:
        refuse_url()
        if from_checkpoint and checkpoint is None:
            raise ValidationFailedError([Problem("from_checkpoint", "needs --checkpoint")])
        chosen = settings()
        exported = _read_exported(checkpoint) if checkpoint is not None else None
        trusted = ({} if public_key is None else
                   {read_public_key_file(public_key, "--public-key"): f"--public-key {public_key}"})
        with Progress(TextColumn("verifying"), BarColumn(),
                      TextColumn("position {task.completed:.0f}"),
                      TimeRemainingColumn(), console=err, disable=options.json,
                      transient=True) as bar:
            task = bar.add_task("verify", total=None)
            return verify_database(
                chosen, trusted_keys=trusted, exported=exported, from_exported=from_checkpoint,
                progress=lambda done, head: bar.update(task, completed=done, total=head))

    report = run(action)
    show(report.as_dict(), _render_report)
    first = report.first
    if first is not None:
        fail(IntegrityViolationError(message(
            "the stored history was altered: first bad position {position} ({kind}); "
            "{findings} finding(s)", position=first.position, kind=first.kind,
            findings=report.findings_total), details=first.as_dict()))
    if report.unverified:
        fail(IntegrityUnverifiedError(message(
            "{count} record(s) from position {position} are older than the checkpoint "
            "interval and covered by no checkpoint a trusted key verifies: their integrity "
            "cannot be shown (is the sealer running, and is the public key configured?)",
            count=number(report.unverified), position=report.first_unverified_position),
            details={"unverified": report.unverified, "covered_up_to": report.covered_up_to,
                     "first_unverified_position": report.first_unverified_position}))


@audit_app.command("export-checkpoint")
def audit_export_checkpoint() -> None:
    """Print the latest signed checkpoint as JSON, with its public key, to keep elsewhere."""
    def action() -> dict[str, Any]:
        refuse_url()
        database = open_read_only(settings())
        try:
            with database.snapshot() as cursor:
                found = (read_checkpoints(cursor, latest_only=True)
                         if tables_exist(cursor, database.dialect) else [])
        finally:
            database.close()
        if not found or found[0].signed is None:
            raise NotFoundError("no signed checkpoint yet: `ledger audit seal` signs one "
                                "(a running service signs them by policy)")
        if not found[0].signed.signature_valid:
            # A witness kept elsewhere is worth only as much as its signature.
            raise IntegrityViolationError(
                "the latest stored checkpoint's signature does not verify: it was altered "
                "outside the ledger (`ledger audit verify` reports it); nothing is exported")
        return found[0].signed.export()

    out.print_json(json.dumps(run(action)))


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Print the signing key's public half (PEM) for verifiers: LEDGER_SIGNING_PUBLIC_KEY_FILE
    or `ledger audit verify --public-key`."""
    def action() -> dict[str, Any]:
        chosen = settings()
        path = chosen.signing_key_file or chosen.data_dir / DEFAULT_KEY_FILE_NAME
        key = read_key_file(path)  # never creates one: no key file is an error
        return {"key_id": key.key_id, "public_key_pem": public_key_pem(key.public_key)}

    show(run(action), lambda r: out.print(r["public_key_pem"], end="", highlight=False,
                                          markup=False, soft_wrap=True))


@audit_app.command("status")
def audit_status() -> None:
    """How far sealing has got against the head of the log, and the last checkpoint."""
    def action() -> dict[str, Any]:
        refuse_url()
        database = open_read_only(settings())
        try:
            with database.snapshot() as cursor:
                return seal_status(cursor, stored_event_log(cursor, database.dialect)).as_dict()
        finally:
            database.close()

    def render(status: dict[str, Any]) -> None:
        rows = table("sealing", "value")
        rows.add_row(tr(N_("head position")), str(status["head_position"]))
        rows.add_row(tr(N_("sealed position")), str(status["sealed_position"]))
        rows.add_row(tr(N_("records not sealed yet (lag)")), str(status["sealing_lag"]))
        last = status["last_checkpoint"]
        rows.add_row(tr(N_("last signed checkpoint")), tr(N_("none")) if last is None else
                     tr(message("#{sequence} at position {position}, {at}",
                                sequence=last["sequence"], position=last["position"],
                                at=last["created_at"])))
        out.print(rows)

    show(run(action), render)


@audit_app.command("seal")
def audit_seal() -> None:
    """Seal every stored record now and sign a checkpoint of the sealed head."""
    def action() -> dict[str, Any]:
        refuse_url()
        with local_ledger() as ledger:
            sealed = ledger.sealer.seal_all(force_checkpoint=True)
            return {"sealed_now": sealed} | ledger.sealer.status().as_dict()

    def render(result: dict[str, Any]) -> None:
        last = result["last_checkpoint"]
        out.print(tr(message("Sealed {count} record(s); sealed up to position {position}",
                             count=number(result["sealed_now"]),
                             position=result["sealed_position"])),
                  highlight=False)
        if last is not None:
            note(tr(message("last signed checkpoint #{sequence} at position {position}",
                            sequence=last["sequence"], position=last["position"])))

    show(run(action), render)


@audit_app.command("create-signing-key")
def audit_create_signing_key(
    path: Annotated[Path, typer.Argument(help="Where to write the new key (must not exist).")],
) -> None:
    """Create an Ed25519 checkpoint signing key file (mode 0600) for LEDGER_SIGNING_KEY_FILE."""
    def action() -> dict[str, Any]:
        key = create_key_file(path)
        return {"path": str(path), "key_id": key.key_id, "public_key": key.public_key.hex()}

    show(run(action), lambda r: out.print(literal(tr(message(
        "Signing key {key_id} written to {path}; keep it outside the database and its "
        "backups, and set LEDGER_SIGNING_KEY_FILE to it", key_id=r["key_id"],
        path=r["path"]))), highlight=False, soft_wrap=True))

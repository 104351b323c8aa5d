"""``ledger export ...`` (EX-1..EX-4): export customers to a file, approve a large export,
and name the export a leaked file came from."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from ledger.domain.export import EXPORTABLE_FIELDS
from ledger.domain.messages import N_, message
from ledger.private_files import create_private_file
from service.cli.common import client, note, number, out, run, show, show_outcome, table, tr

# What ``ledger export identify`` shows of the export a file names, under these headings.
_IDENTIFIED = {"exporter": N_("exporter"), "exported_at": N_("exported at"),
               "purpose": N_("purpose"), "query_hash": N_("query hash"),
               "row_count": N_("row count")}
export_app = typer.Typer(help="Exports: masked, traced and audited (EX-1..EX-4).",
                         no_args_is_help=True)


def _filter(**criteria: Any) -> dict[str, Any]:
    return {key: value for key, value in criteria.items() if value is not None}


@export_app.command("customers")
def export_customers(
    field: Annotated[list[str], typer.Option(
        "--field", "-f", help="A column, in order (repeat): " + ", ".join(EXPORTABLE_FIELDS))],
    purpose: Annotated[str, typer.Option(help="Why the data leaves (recorded).")],
    output: Annotated[Path | None, typer.Option(
        "--out", help="Write the file here (default: its own name, in this directory); "
                      "an existing file is never overwritten.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or jsonl.")] = "csv",
    name_prefix: Annotated[str | None, typer.Option(help="Names starting with this.")] = None,
    source_channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    region: Annotated[str | None, typer.Option(help="Only this address region.")] = None,
    review_state: Annotated[str | None, typer.Option(
        help="reviewed or due (this quarter).")] = None,
    created_since: Annotated[str | None, typer.Option(
        help="Registered at or after this ISO 8601 moment.")] = None,
    created_until: Annotated[str | None, typer.Option(
        help="Registered at or before this ISO 8601 moment.")] = None,
    request: Annotated[str | None, typer.Option(
        help="Run this approved export request (the same filter and fields).")] = None,
    command_id: Annotated[str | None, typer.Option(help="Id for a safe retry.")] = None,
) -> None:
    """Export the customers a filter selects, masked for you, to a traced file."""
    criteria = _filter(name_prefix=name_prefix, source_channel=source_channel, region=region,
                       review_state=review_state, created_since=created_since,
                       created_until=created_until)

    def action() -> dict[str, Any]:
        with _claimed(output) as claimed, client() as ledger:
            answer = ledger.export_customers(field, purpose=purpose, format=fmt,
                                             filter=criteria, request_id=request,
                                             command_id=command_id)
            return _write(answer, output, claimed)

    def render(answer: dict[str, Any]) -> None:
        result = answer["result"]
        if answer["status"] == "pending_approval":
            out.print(Text(tr(message("filed for approval: request {request_id}",
                                      request_id=answer["request_id"])), style="yellow"),
                      highlight=False, soft_wrap=True)
            note(tr(message("{customers} customers, more than the threshold of {threshold}: "
                            "someone holding bulk_export approves it (ledger export approve), "
                            "then you run the same export with --request",
                            customers=result["customers"],
                            threshold=result["approval_threshold"])))
            return
        rows = table("export id", "rows", "canaries", "sha256", "masked fields",
                     show_header=True)
        rows.add_row(answer["export_id"], str(result["rows"]), str(result["canaries"]),
                     result["sha256"], ", ".join(result["masked_fields"]) or tr(N_("none")))
        out.print(rows)
        where = answer.get("written_to")
        note(tr(message("{where}; reflects event position {position}",
                        where=message("written to {path}", path=where) if where
                        else message("already exported: the file was handed out by the "
                                     "first run"),
                        position=result["reflects_position"])))

    show(run(action), render)


@contextmanager
def _claimed(output: Path | None) -> Iterator[int | None]:
    """``--out``, made new and private before the export runs: a path that cannot be
    written (it exists, it is a link) is refused before anything is recorded, not after an
    export nobody received. Removed again if the export does not complete."""
    if output is None:
        yield None
        return
    descriptor = create_private_file(output)
    try:
        yield descriptor
    except BaseException:
        os.close(descriptor)
        output.unlink(missing_ok=True)
        raise


def _write(answer: dict[str, Any], output: Path | None, claimed: int | None
           ) -> dict[str, Any]:
    """Write the answer's file, new and private (0600: an export holds customer data)."""
    content = answer.pop("content")
    if content is not None:
        path = output or Path(answer["file"]["filename"])
        descriptor = claimed if claimed is not None else create_private_file(path)
        with os.fdopen(descriptor, "wb") as written:
            written.write(content)
        answer["written_to"] = str(path)
    elif claimed is not None and output is not None:
        # Nothing to write (the export was run before): the claimed file goes again.
        os.close(claimed)
        output.unlink(missing_ok=True)
    if answer.get("file"):
        answer["file"].pop("content_base64")
    return answer


@export_app.command("report")
def export_report(
    name: Annotated[str, typer.Argument(help="customers, review-coverage, "
                                             "key-change-lateness, deletions or "
                                             "pending-proposals.")],
    purpose: Annotated[str, typer.Option(help="Why the data leaves (recorded).")],
    output: Annotated[Path | None, typer.Option(
        "--out", help="Write the file here (default: its own name, in this directory).")
        ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or jsonl.")] = "csv",
    quarter: Annotated[str | None, typer.Option(
        help="review-coverage: the quarter (default: this one).")] = None,
    command_id: Annotated[str | None, typer.Option(help="Id for a safe retry.")] = None,
) -> None:
    """Export a report to a file with its visible mark, audited like every export."""
    def action() -> dict[str, Any]:
        with _claimed(output) as claimed, client() as ledger:
            answer = ledger.export_report(name, purpose=purpose, format=fmt,
                                          params={"quarter": quarter} if quarter else {},
                                          command_id=command_id)
            return _write(answer, output, claimed)

    def render(answer: dict[str, Any]) -> None:
        result = answer["result"]
        out.print(tr(message("exported report {name}: {rows} row(s), export {export_id}",
                             name=name, rows=result["rows"], export_id=answer["export_id"])),
                  highlight=False, soft_wrap=True)
        note(tr(message("written to {path}; sha256 {sha256}; reflects event position "
                        "{position}", path=answer.get("written_to", "-"),
                        sha256=result["sha256"], position=result["reflects_position"])))

    show(run(action), render)


@export_app.command("approve")
def export_approve(
    request_id: str,
    reason: Annotated[str | None, typer.Option(help="Why (recorded with the event).")] = None,
    command_id: Annotated[str | None, typer.Option(help="Id for a safe retry.")] = None,
) -> None:
    """Approve someone else's export request (needs the bulk-export privilege)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.approve_export(request_id, reason=reason, command_id=command_id)

    show_outcome(run(action))


@export_app.command("identify")
def export_identify(
    file: Annotated[Path, typer.Argument(help="A leaked file, or a part of one.")],
) -> None:
    """Name the export a file came from: its id, exporter, time and purpose."""
    def action() -> dict[str, Any]:
        content = file.read_bytes()
        with client() as ledger:
            return ledger.identify_export(content)

    def render(result: dict[str, Any]) -> None:
        if not result["identified"]:
            out.print(Text(result["message"], style="yellow"), highlight=False)
            for match in result["matches"]:
                note(tr(message("matches export {export_id} by {evidence}",
                                export_id=match["export_id"],
                                evidence=", ".join(match["evidence"]))))
            return
        export = result["export"]
        rows = table("field", "value", show_header=False,
                     title=tr(message("Export {export_id}", export_id=export["export_id"])))
        for key in _IDENTIFIED:
            rows.add_row(tr(_IDENTIFIED[key]), str(export[key]))
        rows.add_row(tr(N_("evidence")), ", ".join(export["evidence"]))
        out.print(rows)
        note(tr(message("{count} rows examined; reflects event position {position}",
                        count=number(result["rows_examined"]),
                        position=result["reflects_position"])))

    show(run(action), render)


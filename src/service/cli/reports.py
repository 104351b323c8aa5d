"""``ledger report NAME`` (OP-3): a report from the read models as a Rich table, ``--json``
or ``--csv``, stating the event position it reflects; ``ledger export report`` writes one
to a traced, audited file."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import message
from projections.reports import REPORTS
from service.cli.common import cell, client, note, number, options, out, run, table, tr

_NAMES = ", ".join(REPORTS)


def _params(quarter: str | None) -> dict[str, str]:
    return {"quarter": quarter} if quarter else {}


def report(
    name: Annotated[str, typer.Argument(help=f"One of: {_NAMES}.")],
    quarter: Annotated[str | None, typer.Option(
        help="review-coverage: the quarter, e.g. 2026-Q4 (default: this one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV rows.")] = False,
) -> None:
    """Print a report: customers, review-coverage, key-change-lateness, deletions or
    pending-proposals."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.report(_known(name), **_params(quarter))

    result = run(action)
    if as_json or options.json:
        out.print_json(json.dumps(result, ensure_ascii=False, default=str))
        return
    columns = list(REPORTS[name].row.model_fields)
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(row.get(column, "")) for column in columns]
                         for row in result["rows"])
        return
    shown = table(*columns, title=tr(message("Report {name}", name=name)))
    for row in result["rows"]:
        shown.add_row(*(cell(row.get(column)) for column in columns))
    out.print(shown)
    hidden = result.get("hidden_dimensions")
    note(tr(message("{count} row(s); reflects event position {position}{hidden}",
                    count=number(len(result["rows"])), position=result["reflects_position"],
                    hidden=message("; left out (you may not read it): {dimensions}",
                                   dimensions=", ".join(hidden)) if hidden else "")))


def _known(name: str) -> str:
    if name not in REPORTS:
        raise ValidationFailedError([Problem("name", message("is not a report: one of {names}",
                                                             names=_NAMES))])
    return name

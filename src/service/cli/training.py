"""``ledger training ...``: training sessions, assessments and their reports (TR-1..TR-3),
acting as the local administrator on the local database (or ``--actor`` with ``--url``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.domain.messages import N_, message
from service.cli.common import (
    admin_client,
    note,
    number,
    out,
    run,
    show,
    show_outcome,
    table,
    tr,
    when,
)

training_app = typer.Typer(help="Training and assessment (TR-1..TR-3).", no_args_is_help=True)

Reason = Annotated[str | None, typer.Option(help="Why (recorded with the event).")]
Day = Annotated[str, typer.Option("--on", help="The day it took place, YYYY-MM-DD.")]


@training_app.command("record")
def training_record(
    username: str,
    course: str,
    version: Annotated[str, typer.Option(help="The course version attended.")],
    on: Day,
    trainer: Annotated[str, typer.Option(help="Who gave the training.")],
    method: Annotated[str, typer.Option(help="classroom, online or on_the_job.")],
    reason: Reason = None,
) -> None:
    """Record a training session an employee attended."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.record_training(username, course, course_version=version,
                                          trained_on=on, trainer=trainer, method=method,
                                          reason=reason)

    show_outcome(run(action))


@training_app.command("assess")
def training_assess(
    username: str,
    course: str,
    score: int,
    on: Day,
    assessor: Annotated[str | None, typer.Option(
        help="Who assessed (default: the one recording it).")] = None,
    reason: Reason = None,
) -> None:
    """Record an assessment's score out of 100; it passes at the policy's pass mark."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.record_assessment(username, course, score, assessed_on=on,
                                            assessor=assessor, reason=reason)

    show_outcome(run(action))


@training_app.command("overdue")
def training_overdue(
    as_of: Annotated[str | None, typer.Option(help="As of YYYY-MM-DD (default today).")
                     ] = None,
) -> None:
    """Employees overdue for assessment: new ones past their window, others past the period."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.overdue_assessments(as_of=as_of)

    def render(result: dict[str, Any]) -> None:
        rows = table("username", "department", "reason", "due on", "last passed on",
                     title=tr(message("Overdue for assessment as of {date}",
                                      date=when(result["as_of"]))))
        for e in result["employees"]:
            rows.add_row(e["username"], e["department"], e["reason"], e["due_on"],
                         e["last_passed_on"] or tr(N_("never")))
        out.print(rows)
        note(tr(message("{count} employee(s) overdue; reflects event position {position}",
                        count=number(len(result["employees"])),
                        position=result["reflects_position"])))

    show(run(action), render)


@training_app.command("pass-rates")
def training_pass_rates(
    since: Annotated[str | None, typer.Option(help="Only assessments on or after "
                                                   "YYYY-MM-DD.")] = None,
) -> None:
    """Assessments and pass rates per course and per department."""
    def action() -> dict[str, Any]:
        with admin_client() as ledger:
            return ledger.training_pass_rates(since=since)

    def render(result: dict[str, Any]) -> None:
        for key, rates in (("course", result["courses"]),
                           ("department", result["departments"])):
            rows = table(key, "assessments", "passed", "pass rate")
            for r in rates:
                rows.add_row(r[key], str(r["assessments"]), str(r["passed"]),
                             f"{r['pass_rate']:.0%}")
            out.print(rows)
        note(tr(message("pass mark {pass_mark}; reflects event position {position}",
                        pass_mark=result["pass_mark"], position=result["reflects_position"])))

    show(run(action), render)

"""``ledger change ...`` (UP-2..UP-4) and ``ledger review ...`` (UP-1)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.domain.errors import Problem, ValidationFailedError
from ledger.domain.messages import N_, message
from projections.queries import ListLateKeyChanges, ListPendingProposals, ListReviewsDue
from service.cli.common import (
    check_nesting,
    client,
    more_note,
    note,
    number,
    out,
    read_json,
    run,
    show,
    show_outcome,
    table,
    tr,
)
from service.cli.query_options import query_options

change_app = typer.Typer(help="Propose, verify, reject and list changes to customers.",
                         no_args_is_help=True)
review_app = typer.Typer(help="Quarterly customer reviews (UP-1).", no_args_is_help=True)


def parse_assignments(assignments: list[str], json_assignments: list[str]) -> dict[str, Any]:
    """``path=text`` and ``path=<JSON>`` options as one change set."""
    changes: dict[str, Any] = {}
    problems = []
    for item in assignments:
        path, sep, value = item.partition("=")
        if not sep:
            problems.append(Problem("--set", "must look like path=value"))
            continue
        changes[path.strip()] = value
    for item in json_assignments:
        path, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            check_nesting(value, "--set-json")
            changes[path.strip()] = json.loads(value)
        except ValueError:
            problems.append(Problem("--set-json", "must look like path=<JSON value>"))
    if problems:
        raise ValidationFailedError(problems)
    return changes


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailedError([Problem(field, "must be YYYY-MM-DD")]) from None


@change_app.command("propose")
def change_propose(
    customer_id: str,
    happened_on: Annotated[str, typer.Option(help="When the change happened (YYYY-MM-DD).")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="path=text, e.g. basic.phone=+8613800138000 (repeatable).")] = None,
    set_json: Annotated[list[str] | None, typer.Option(
        "--set-json", help='path=JSON, e.g. contacts=\'[{"name": "Li Lei"}]\'.')] = None,
    changes_file: Annotated[Path | None, typer.Option(
        "--file", help="JSON object of path: value (or - for stdin).")] = None,
    expected_version: Annotated[int | None, typer.Option(help="Refuse if changed since.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded with the event).")] = None,
) -> None:
    """Propose new values for fields of a customer, for a specialist to verify."""
    def action() -> dict[str, Any]:
        changes = read_json(changes_file) if changes_file else {}
        if not isinstance(changes, dict):
            raise ValidationFailedError([Problem("file", "must hold a JSON object")])
        changes |= parse_assignments(set_ or [], set_json or [])
        day = _day(happened_on, "happened_on")
        with client() as ledger:
            return ledger.propose_change(customer_id, changes, day,
                                         expected_version=expected_version, reason=reason)

    show_outcome(run(action))


@change_app.command("verify")
def change_verify(
    customer_id: str,
    proposal_id: str,
    expected_version: Annotated[int | None, typer.Option(help="Refuse if changed since.")] = None,
) -> None:
    """Accept a pending proposal (not your own); its changes apply together."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.verify_change(customer_id, proposal_id,
                                        expected_version=expected_version)

    show_outcome(run(action))


@change_app.command("reject")
def change_reject(
    customer_id: str,
    proposal_id: str,
    reason: Annotated[str, typer.Option(help="Why the proposal is rejected.")],
) -> None:
    """Reject a pending proposal someone else made, with a reason."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.reject_change(customer_id, proposal_id, reason)

    show_outcome(run(action))


@change_app.command("withdraw")
def change_withdraw(
    customer_id: str,
    proposal_id: str,
    expected_version: Annotated[int | None, typer.Option(help="Refuse if changed since.")] = None,
) -> None:
    """Withdraw your own pending proposal; nothing of it applies."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.withdraw_change(customer_id, proposal_id,
                                          expected_version=expected_version)

    show_outcome(run(action))


@change_app.command("pending")
@query_options(ListPendingProposals, "limit")
def change_pending(
    customer_id: Annotated[str | None, typer.Option("--customer", help="Only this one.")] = None,
    **fields: Any,
) -> None:
    """List change proposals waiting for verification, oldest first."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.pending_proposals(customer_id, **fields)

    def render(result: dict[str, Any]) -> None:
        rows = table("proposal id", "customer id", "fields", "happened on", "proposed by",
                     "late")
        for p in result["proposals"]:
            rows.add_row(p["proposal_id"], p["customer_id"], ", ".join(p["fields"]),
                         p["happened_on"], p["proposed_by"],
                         tr(N_("late")) if p["late"] else "")
        out.print(rows)
        note(tr(message("{count} pending{more}; reflects event position {position}",
                        count=number(len(result["proposals"])), more=more_note(result),
                        position=result["reflects_position"])))

    show(run(action), render)


@change_app.command("late")
@query_options(ListLateKeyChanges, "limit")
def change_late(**fields: Any) -> None:
    """List key-field changes recorded after their working-day deadline (UP-2)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.late_key_changes(**fields)

    def render(result: dict[str, Any]) -> None:
        rows = table("proposal id", "customer id", "key fields", "happened on", "due on",
                     "recorded at", "status")
        for c in result["late_changes"]:
            rows.add_row(c["proposal_id"], c["customer_id"], ", ".join(c["key_fields"]),
                         c["happened_on"], c["record_by"], c["recorded_at"], c["status"])
        out.print(rows)
        note(tr(message("{count} late{more}; reflects event position {position}",
                        count=number(len(result["late_changes"])), more=more_note(result),
                        position=result["reflects_position"])))

    show(run(action), render)


@review_app.command("record")
def review_record(
    customer_id: str,
    outcome: Annotated[str, typer.Option(help="confirmed or needs_update.")] = "confirmed",
    reviewed_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None,
) -> None:
    """Record the quarterly review of a customer."""
    def action() -> dict[str, Any]:
        day = _day(reviewed_on, "reviewed_on") if reviewed_on else None
        with client() as ledger:
            return ledger.record_review(customer_id, outcome=outcome, reviewed_on=day)

    show_outcome(run(action))


@review_app.command("due")
@query_options(ListReviewsDue, "quarter", "limit")
def review_due(**fields: Any) -> None:
    """List customers not yet reviewed in a quarter."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.reviews_due(**fields)

    def render(result: dict[str, Any]) -> None:
        rows = table("customer id", "name", "last reviewed", "registered at",
                     title=tr(message("Not reviewed in {quarter}", quarter=result["quarter"])))
        for c in result["customers"]:
            rows.add_row(c["customer_id"], c["name"] or "",
                         c["last_reviewed_quarter"] or tr(N_("never")), c["registered_at"])
        out.print(rows)
        note(tr(message("{count} due{more}; reflects event position {position}",
                        count=number(len(result["customers"])), more=more_note(result),
                        position=result["reflects_position"])))

    show(run(action), render)

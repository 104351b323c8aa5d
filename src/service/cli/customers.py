"""``ledger customer ...`` and ``ledger history``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.domain.messages import N_, message
from projections.queries import FindCustomers, GetCustomer
from service.cli.common import (
    cell,
    client,
    money,
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
    when,
)
from service.cli.query_options import query_options

customer_app = typer.Typer(help="Register, show and find customers.", no_args_is_help=True)


@customer_app.command("register")
def customer_register(
    profile_file: Annotated[Path, typer.Argument(help="JSON profile file, or - for stdin.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded with the event).")] = None,
    command_id: Annotated[str | None, typer.Option(help="Id for a safe retry.")] = None,
) -> None:
    """Register a customer from a JSON profile."""
    def action() -> dict[str, Any]:
        profile = read_json(profile_file)
        with client() as ledger:
            return ledger.register_customer(profile, reason=reason, command_id=command_id)

    show_outcome(run(action))


def _render_customer(result: dict[str, Any]) -> None:
    customer = result["customer"]
    rows = table("field", "value", title=tr(message("Customer {customer_id}",
                                      customer_id=customer["customer_id"])),
                 show_header=False)
    rows.add_row(tr(N_("version")), str(customer["version"]))
    if customer.get("erased"):
        rows.add_row(tr(N_("erased")), tr(message(
            "yes, at {at}: its personal data was destroyed ([erased])",
            at=when(customer.get("erased_at")) or "?")))
    for group, values in customer["profile"].items():
        if isinstance(values, dict):
            for field, value in values.items():
                if value not in (None, [], {}):
                    rows.add_row(f"{group}.{field}", money(value) or cell(value))
        elif values not in (None, [], {}):
            rows.add_row(group, cell(values))
    rows.add_row(tr(N_("last review")), cell(customer["last_review"])
                 if customer["last_review"] else tr(N_("never")))
    for hold in customer.get("legal_holds", []):
        held = {"hold_id": hold["hold_id"], "reference": hold["reference"],
                "by": hold["placed_by"], "at": when(hold["placed_at"])}
        rows.add_row(tr(N_("legal hold")), tr(
            message("{hold_id} ({reference}), until {until}; placed by {by} at {at}",
                    until=when(hold["until"]), **held) if hold["until"] else
            message("{hold_id} ({reference}), until lifted; placed by {by} at {at}", **held)))
    out.print(rows)
    note(tr(message("reflects event position {position}",
                    position=result["reflects_position"])))


@customer_app.command("show")
@query_options(GetCustomer, "min_position")
def customer_show(customer_id: str, **fields: Any) -> None:
    """Show the current view of one customer."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.get_customer(customer_id, **fields)

    show(run(action), _render_customer)


@customer_app.command("find")
@query_options(FindCustomers, "limit")
def customer_find(name_prefix: str, **fields: Any) -> None:
    """Find customers whose name starts with a prefix (case-insensitive)."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.find_customers(name_prefix, **fields)

    def render(result: dict[str, Any]) -> None:
        rows = table("customer id", "name", "channel", "version", "updated at")
        for c in result["customers"]:
            rows.add_row(c["customer_id"], c["name"], c["source_channel"], str(c["version"]),
                         c["updated_at"])
        out.print(rows)
        note(tr(message("{count} found{more}; reflects event position {position}",
                        count=number(len(result["customers"])), more=more_note(result),
                        position=result["reflects_position"])))

    show(run(action), render)


def history(customer_id: str) -> None:
    """Every event of a customer in order, with actor, time, command and reason."""
    def action() -> dict[str, Any]:
        with client() as ledger:
            return ledger.customer_history(customer_id)

    def render(result: dict[str, Any]) -> None:
        rows = table("v", "event", "recorded at", "actor", "command id", "reason", "facts",
                     title=tr(message("History of customer {customer_id}",
                                    customer_id=result["customer_id"])))
        for e in result["events"]:
            rows.add_row(str(e["version"]), e["event"], e["recorded_at"], e["actor"] or "",
                         e["command_id"] or "", e["reason"] or "", cell(e["facts"]))
        out.print(rows)

    show(run(action), render)
